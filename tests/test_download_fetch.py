"""One direct link downloaded over one connection, against a file server of
the test's own that honours or ignores Range, drops the connection, stalls,
lies about its length or sends hostile names."""

from __future__ import annotations

import asyncio
import errno
import itertools
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from loopback import LoopbackServer

from tui.download import fetch as fetch_module
from tui.download import files
from tui.download.failures import (
    ConnectionLost,
    DeadlinePassed,
    DiskFull,
    NoRoom,
    Partial,
    Refused,
    SizeMismatch,
    Stalled,
)
from tui.download.fetch import Progress, fetch

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes


class FileServer(LoopbackServer):
    """Serves PAYLOAD at any path; the fault attributes apply to the next answer only."""

    def __init__(self) -> None:
        super().__init__(ThreadingHTTPServer, _Handler)
        self.etag = '"v1"'
        self.honour_range = True
        self.drop_after: int | None = None
        self.stall_after: int | None = None
        self.declared_length: int | None = None
        self.disposition: str | None = None
        self.silent = False
        self.refuse_with: int | None = None
        self.requests: list[dict[str, str]] = []
        self.released = threading.Event()

    def url(self, path: str = "/dl/file.bin") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        super().__exit__(*exc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        server: FileServer = self.server.owner  # type: ignore[attr-defined]
        server.requests.append(dict(self.headers))
        if self.path.startswith("/go?to="):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/go?to="))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if server.refuse_with is not None:
            self.send_response(server.refuse_with)
            server.refuse_with = None
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if server.silent:
            server.silent = False
            server.released.wait(60)
            self.close_connection = True
            return
        asked = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        start = 0
        if asked and int(asked.removeprefix("bytes=").rstrip("-")) >= len(PAYLOAD):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if asked and server.honour_range and if_range in (None, server.etag):
            start = int(asked.removeprefix("bytes=").rstrip("-"))
        body = PAYLOAD[start:]
        self.send_response(206 if start else 200)
        length = server.declared_length if server.declared_length is not None else len(body)
        self.send_header("Content-Length", str(length))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.send_header("ETag", server.etag)
        if server.disposition:
            self.send_header("Content-Disposition", server.disposition)
        self.end_headers()
        drop, stall, lied = server.drop_after, server.stall_after, server.declared_length
        server.drop_after = server.stall_after = server.declared_length = None
        self.close_connection = drop is not None or stall is not None or lied is not None
        if stall is not None:
            self.wfile.write(body[:stall])
            self.wfile.flush()
            server.released.wait(60)
            return
        self.wfile.write(body if drop is None else body[:drop])


@pytest.fixture
def server() -> Any:
    with FileServer() as running:
        yield running


async def test_a_whole_file_with_progress(server: FileServer, tmp_path: Path) -> None:
    seen: list[Progress] = []
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), tmp_path, on_progress=seen.append)
    assert path == tmp_path / "file.bin" and path.read_bytes() == PAYLOAD
    assert seen[-1].done == seen[-1].total == len(PAYLOAD)
    assert list(tmp_path.iterdir()) == [path]


async def test_a_dropped_connection_resumes_with_range_and_if_range(
    server: FileServer, tmp_path: Path
) -> None:
    server.drop_after = 30_000
    async with httpx.AsyncClient() as client:
        with pytest.raises(ConnectionLost) as lost:
            await fetch(client, server.url(), tmp_path)
        partial = lost.value.partial
        assert partial is not None and partial.part.stat().st_size == 30_000
        path = await fetch(client, server.url(), tmp_path, resume=partial)
    assert path.read_bytes() == PAYLOAD
    assert server.requests[-1]["Range"] == "bytes=30000-"
    assert server.requests[-1]["If-Range"] == '"v1"'


async def test_a_server_that_ignores_range_restarts_from_zero(
    server: FileServer, tmp_path: Path
) -> None:
    server.drop_after = 50_000
    async with httpx.AsyncClient() as client:
        with pytest.raises(ConnectionLost) as lost:
            await fetch(client, server.url(), tmp_path)
        server.honour_range = False
        path = await fetch(client, server.url(), tmp_path, resume=lost.value.partial)
    assert path.read_bytes() == PAYLOAD and "Range" in server.requests[-1]


async def test_a_changed_file_restarts_from_zero(server: FileServer, tmp_path: Path) -> None:
    server.drop_after = 50_000
    async with httpx.AsyncClient() as client:
        with pytest.raises(ConnectionLost) as lost:
            await fetch(client, server.url(), tmp_path)
        server.etag = '"v2"'
        path = await fetch(client, server.url(), tmp_path, resume=lost.value.partial)
    assert path.read_bytes() == PAYLOAD


async def test_a_stall_ends_in_a_resumable_error(server: FileServer, tmp_path: Path) -> None:
    server.stall_after = 10_000
    async with httpx.AsyncClient() as client:
        with pytest.raises(Stalled, match="sent nothing") as stalled:
            await fetch(client, server.url(), tmp_path, stall_seconds=0.3)
        assert stalled.value.partial is not None
        path = await fetch(client, server.url(), tmp_path, resume=stalled.value.partial)
    assert path.read_bytes() == PAYLOAD


async def test_a_server_that_sends_nothing_stalls(server: FileServer, tmp_path: Path) -> None:
    server.silent = True
    async with httpx.AsyncClient() as client:
        with pytest.raises(Stalled) as stalled:
            await fetch(client, server.url(), tmp_path, stall_seconds=0.3)
    assert stalled.value.partial is None and list(tmp_path.iterdir()) == []


async def test_a_body_shorter_than_its_length_is_resumable(
    server: FileServer, tmp_path: Path
) -> None:
    server.declared_length = len(PAYLOAD) + 5
    async with httpx.AsyncClient() as client:
        with pytest.raises(ConnectionLost) as lost:
            await fetch(client, server.url(), tmp_path)
    assert lost.value.partial is not None


async def test_a_size_other_than_the_expected_one_fails(server: FileServer, tmp_path: Path) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(SizeMismatch, match="were expected"):
            await fetch(client, server.url(), tmp_path, expected_size=len(PAYLOAD) + 1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("disposition", "name"),
    [
        ('attachment; filename="../../../etc/cron.d/x"', "_.._.._etc_cron.d_x"),
        ("attachment; filename*=UTF-8''%2e%2e%2F%00%1b%5b31m%E2%80%AEevil", "_[31mevil"),
        ('attachment; filename=".."', "file.bin"),
        ("attachment; filename=" + "a" * 1000 + ".zip", "a" * 246 + ".zip"),
    ],
)
async def test_hostile_names_stay_in_the_folder(
    server: FileServer, tmp_path: Path, disposition: str, name: str
) -> None:
    server.disposition = disposition
    folder = tmp_path / "dl"
    folder.mkdir()
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), folder)
    assert path == folder / name and path.read_bytes() == PAYLOAD
    assert [p.name for p in tmp_path.iterdir()] == ["dl"]


async def test_a_full_disk_keeps_the_part_for_a_resume(
    server: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write_all = files.write_all
    writes = 0

    def fill_up(part: files.PartFile, data: bytes) -> None:
        nonlocal writes
        writes += 1
        if writes > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write_all(part, data)

    monkeypatch.setattr(fetch_module.files, "write_all", fill_up)
    async with httpx.AsyncClient() as client:
        with pytest.raises(DiskFull, match="kept for a resume") as full:
            await fetch(client, server.url(), tmp_path)
        monkeypatch.setattr(fetch_module.files, "write_all", real_write_all)
        assert full.value.partial is not None and full.value.partial.part.exists()
        path = await fetch(client, server.url(), tmp_path, resume=full.value.partial)
    assert path.read_bytes() == PAYLOAD


async def test_a_deadline_ends_a_download_that_never_stalls_long(
    server: FileServer, tmp_path: Path
) -> None:
    server.silent = True
    async with httpx.AsyncClient() as client:
        with pytest.raises(DeadlinePassed, match="longer than"):
            await fetch(client, server.url(), tmp_path, stall_seconds=30, deadline_seconds=0.3)


async def test_without_resume_the_part_is_filled_again_from_zero(
    server: FileServer, tmp_path: Path
) -> None:
    server.drop_after = 40_000
    async with httpx.AsyncClient() as client:
        with pytest.raises(ConnectionLost) as lost:
            await fetch(client, server.url(), tmp_path)
        partial = lost.value.partial
        assert partial is not None
        path = await fetch(client, server.url(), tmp_path, resume=partial, resume_allowed=False)
    assert path == tmp_path / "file.bin" and path.read_bytes() == PAYLOAD
    assert "Range" not in server.requests[-1]


async def test_an_expired_link_keeps_the_part_for_a_new_one(
    server: FileServer, tmp_path: Path
) -> None:
    server.drop_after = 40_000
    async with httpx.AsyncClient() as client:
        with pytest.raises(ConnectionLost) as lost:
            await fetch(client, server.url(), tmp_path)
        server.refuse_with = 410
        with pytest.raises(Refused, match="HTTP 410") as refused:
            await fetch(client, server.url(), tmp_path, resume=lost.value.partial)
        assert refused.value.partial == lost.value.partial
        path = await fetch(client, server.url("/new/link"), tmp_path, resume=refused.value.partial)
    assert path == tmp_path / "file.bin" and path.read_bytes() == PAYLOAD


async def test_a_part_complete_already_is_finished(server: FileServer, tmp_path: Path) -> None:
    part = files.open_part(tmp_path, "whole.bin")
    files.write_all(part, PAYLOAD)
    os.close(part.fd)
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), tmp_path, resume=Partial(part.path, '"v1"'))
    assert path == tmp_path / "whole.bin" and path.read_bytes() == PAYLOAD


async def test_too_little_free_space_stops_before_any_file(
    server: FileServer, tmp_path: Path
) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(NoRoom, match="bytes free"):
            await fetch(client, server.url(), tmp_path, min_free_space=2**62)
    assert list(tmp_path.iterdir()) == []


async def test_a_part_that_vanished_starts_afresh(server: FileServer, tmp_path: Path) -> None:
    gone = Partial(tmp_path / "gone.bin.part", '"v1"')
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), tmp_path, resume=gone)
    assert path == tmp_path / "file.bin" and path.read_bytes() == PAYLOAD
    assert "Range" not in server.requests[-1]


async def test_the_speed_is_measured_on_the_injected_clock(
    server: FileServer, tmp_path: Path
) -> None:
    ticks = itertools.count()
    seen: list[Progress] = []
    async with httpx.AsyncClient() as client:
        await fetch(
            client,
            server.url(),
            tmp_path,
            on_progress=seen.append,
            clock=lambda: float(next(ticks)),
        )
    assert seen[-1].speed == len(PAYLOAD) / len(seen)  # one tick a chunk
    assert [p.done for p in seen] == sorted(p.done for p in seen)


async def test_the_stall_detector_governs_not_the_clients_timeout(
    server: FileServer, tmp_path: Path
) -> None:
    server.silent = True
    async with httpx.AsyncClient(timeout=0.05) as client:
        with pytest.raises(Stalled, match=r"for 0\.5 seconds"):
            await fetch(client, server.url(), tmp_path, stall_seconds=0.5)


async def test_a_redirect_is_followed_and_names_the_file(
    server: FileServer, tmp_path: Path
) -> None:
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url("/go?to=/files/Real%20Name.iso"), tmp_path)
    assert path == tmp_path / "Real Name.iso" and path.read_bytes() == PAYLOAD


async def test_a_cancelled_download_resumes_from_the_part_it_announced(
    server: FileServer, tmp_path: Path
) -> None:
    server.stall_after = 20_000
    announced: list[Partial] = []
    async with httpx.AsyncClient() as client:
        task = asyncio.create_task(fetch(client, server.url(), tmp_path, on_part=announced.append))
        while not announced or announced[0].part.stat().st_size < 20_000:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert announced == [Partial(tmp_path / "file.bin.part", '"v1"')]
        path = await fetch(client, server.url(), tmp_path, resume=announced[0])
    assert path.read_bytes() == PAYLOAD and server.requests[-1]["Range"] == "bytes=20000-"


async def test_a_resume_that_finds_another_size_drops_the_part(
    server: FileServer, tmp_path: Path
) -> None:
    server.drop_after = 10_000
    async with httpx.AsyncClient() as client:
        with pytest.raises(ConnectionLost) as lost:
            await fetch(client, server.url(), tmp_path)
        with pytest.raises(SizeMismatch) as wrong:
            await fetch(client, server.url(), tmp_path, resume=lost.value.partial, expected_size=5)
    assert wrong.value.partial is None and list(tmp_path.iterdir()) == []
