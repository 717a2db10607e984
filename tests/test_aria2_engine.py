"""The aria2 engine against a JSON-RPC server of the test's own that answers
what a hostile or broken aria2 might: a file outside the download folder, an
error message with control characters, a status that is not aria2's."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from test_aria2 import FakeAria2

from tui.core.aria2_engine import Aria2Engine
from tui.core.download_queue import Fetching, Limits
from tui.download.failures import Aria2CallError, Aria2Failed, NoRoom, OutsideFolder, Refused
from tui.download.job import Download, DownloadState
from tui.secret import Secret
from tui.settings import Settings

GID = "0123456789abcdef"
STATUS = {
    "gid": GID,
    "status": "active",
    "totalLength": "100",
    "completedLength": "40",
    "downloadSpeed": "10",
    "connections": "2",
    "files": [],
}


def aria2_answering(
    statuses: list[dict[str, object]], writes: Path | None = None
) -> Callable[[dict], bytes]:
    """A fake aria2: addUri (which writes 100 bytes to `writes`), remove,
    pause and unpause answer GID, tellStatus each of `statuses` in turn."""
    told = iter(statuses)

    def answer(request: dict) -> bytes:
        method = request["method"]
        value: object = "OK"
        if method in ("aria2.addUri", "aria2.remove", "aria2.pause", "aria2.unpause"):
            value = GID
        if method == "aria2.addUri" and writes is not None:
            writes.write_bytes(b"x" * 100)
        elif method == "aria2.tellStatus":
            value = next(told)
        return json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": value}).encode()

    return answer


class Recorded:
    def __init__(self) -> None:
        self.progress: list[tuple[int, int | None, float, int]] = []
        self.resumable: list[tuple[str, str, str | None]] = []
        self.secrets: list[Secret] = []

    def fetching(self, connections: int = 2) -> Fetching:
        def progress(done: int, total: int | None, speed: float, count: int) -> None:
            self.progress.append((done, total, speed, count))

        def resumable(resume: str, target: str, *, gid: str | None = None) -> None:
            self.resumable.append((resume, target, gid))

        return Fetching(Limits(connections, None, True), None, progress, resumable)


def engine_for(fake: FakeAria2, recorded: Recorded) -> Aria2Engine:
    settings = Settings()
    aria2 = replace(settings.aria2, rpc_url=fake.url, secret="the-aria2-secret")
    settings = replace(settings, aria2=aria2)

    async def no_wait(seconds: float) -> None:
        await asyncio.sleep(0)

    return Aria2Engine(lambda: settings, recorded.secrets.append, sleep=no_wait)


def job_in(folder: Path) -> Download:
    return Download(
        item_id=7,
        state=DownloadState.DOWNLOADING,
        url="http://127.0.0.1:9/dl/x/file.zip",
        folder=str(folder),
        engine="aria2",
        filename="..\x1bfile.zip",
    )


async def test_progress_is_aria2s_and_the_gid_is_saved_at_once(tmp_path: Path) -> None:
    recorded = Recorded()
    done = {**STATUS, "status": "complete", "completedLength": "100"}
    path = str(tmp_path / "file.zip")
    statuses = [{**STATUS, "files": [{"path": path}]}, {**done, "files": [{"path": path}]}]
    with FakeAria2(aria2_answering(statuses, writes=tmp_path / "file.zip")) as fake:
        got = await engine_for(fake, recorded).run(job_in(tmp_path), recorded.fetching(3))
    assert got == tmp_path / "file.zip"
    ((resume, target, gid),) = recorded.resumable
    assert (json.loads(resume), target, gid) == ({"gid": GID, "target": path}, path, GID)
    assert recorded.progress == [(40, 100, 10.0, 2)]
    add = fake.requests[0]
    assert add["method"] == "aria2.addUri"
    assert add["params"][0] == "token:the-aria2-secret"
    assert add["params"][2] == {
        "dir": str(tmp_path),
        "out": "file.zip",  # the unlock answer's name, made safe
        "allow-overwrite": "false",
        "auto-file-renaming": "true",
        "split": "3",
        "max-connection-per-server": "3",
    }
    assert [s.reveal() for s in recorded.secrets] == ["the-aria2-secret"]
    assert fake.requests[-1]["method"] == "aria2.removeDownloadResult"


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.zip", "sub/dir/file.zip"])
async def test_a_file_aria2_says_is_outside_the_folder_fails_the_download(
    tmp_path: Path, path: str
) -> None:
    recorded = Recorded()
    folder = tmp_path / "files"
    statuses = [{**STATUS, "status": "complete", "files": [{"path": path}]}]
    outside = pytest.raises(OutsideFolder, match="outside")
    with FakeAria2(aria2_answering(statuses)) as fake, outside:
        await engine_for(fake, recorded).run(job_in(folder), recorded.fetching())


async def test_aria2s_error_message_is_said_as_plain_text(tmp_path: Path) -> None:
    recorded = Recorded()
    failed = {**STATUS, "status": "error", "errorCode": "1", "errorMessage": "bad\x1b[31m disk"}
    with FakeAria2(aria2_answering([failed])) as fake, pytest.raises(Aria2Failed) as error:
        await engine_for(fake, recorded).run(job_in(tmp_path), recorded.fetching())
    assert "\x1b" not in str(error.value)
    assert str(error.value).startswith("aria2 failed the download: bad")


async def test_the_download_hosts_answer_is_its_http_status(tmp_path: Path) -> None:
    recorded = Recorded()
    message = "The response status is not successful. status=410"
    gone = {**STATUS, "status": "error", "errorCode": "22", "errorMessage": message}
    with FakeAria2(aria2_answering([gone])) as fake, pytest.raises(Refused) as error:
        await engine_for(fake, recorded).run(job_in(tmp_path), recorded.fetching())
    assert error.value.status == 410


async def test_an_answer_not_aria2s_fails_with_a_sentence(tmp_path: Path) -> None:
    recorded = Recorded()
    not_aria2s = aria2_answering([{**STATUS, "status": "exploded"}])
    refused = pytest.raises(Aria2CallError, match="no known kind")
    with FakeAria2(not_aria2s) as fake, refused as error:
        await engine_for(fake, recorded).run(job_in(tmp_path), recorded.fetching())
    assert "the-aria2-secret" not in str(error.value)
    assert error.value.__cause__ is None


async def test_a_download_stopped_while_aria2_adds_it_is_undone(tmp_path: Path) -> None:
    """Paused the moment it started: aria2 got the link but linkdeck never saw
    its GID. aria2 must not go on with a download nobody follows."""
    recorded = Recorded()
    adding = threading.Event()
    removed = {**STATUS, "status": "removed"}

    def slow_add(request: dict) -> bytes:
        if request["method"] == "aria2.addUri":
            adding.set()
            time.sleep(0.5)
        return answering(request)

    answering = aria2_answering([removed])
    with FakeAria2(slow_add) as fake:
        run = asyncio.create_task(
            engine_for(fake, recorded).run(job_in(tmp_path), recorded.fetching())
        )
        await asyncio.to_thread(adding.wait, 5)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    methods = [request["method"] for request in fake.requests]
    assert methods == [
        "aria2.addUri",
        "aria2.remove",
        "aria2.tellStatus",
        "aria2.removeDownloadResult",
    ]
    assert all(request["params"][1] == GID for request in fake.requests[1:])


@pytest.mark.parametrize("target", ["link.zip", "../outside.zip", "/elsewhere/outside.zip"])
async def test_a_cancel_deletes_only_files_of_its_own_in_the_folder(
    tmp_path: Path, target: str
) -> None:
    """A record's target is untrusted (a hand edit, another version): what is
    not a regular file right in the download folder is left alone."""
    folder = tmp_path / "files"
    folder.mkdir()
    outside = tmp_path / "outside.zip"
    outside.write_bytes(b"keep")
    (outside.with_name("outside.zip.aria2")).write_bytes(b"keep")
    (folder / "link.zip").symlink_to(outside)
    (folder / "link.zip.aria2").symlink_to(outside.with_name("outside.zip.aria2"))
    recorded = Recorded()
    with FakeAria2(aria2_answering([])) as fake:
        engine = engine_for(fake, recorded)
        stored = target.replace("/elsewhere", str(tmp_path))
        await engine.stop(replace(job_in(folder), target=stored), discard=True)
    assert outside.read_bytes() == b"keep"
    assert outside.with_name("outside.zip.aria2").read_bytes() == b"keep"
    assert (folder / "link.zip").is_symlink()
    assert fake.requests == []  # no GID: nothing to ask aria2


async def test_a_disk_without_room_is_said_before_aria2_is_asked(tmp_path: Path) -> None:
    recorded = Recorded()
    with FakeAria2(aria2_answering([])) as fake:
        engine = engine_for(fake, recorded)
        settings = engine.settings()
        download = replace(settings.download, min_free_space=1 << 60)
        engine.settings = lambda: replace(settings, download=download)
        with pytest.raises(NoRoom, match="bytes free"):
            await engine.run(replace(job_in(tmp_path), expected_size=100), recorded.fetching())
    assert fake.requests == []
