"""The aria2 client against a real aria2c on loopback, started here, and
against JSON-RPC servers of the test's own that answer what aria2 never would.

aria2c comes from the Debian package `aria2`, which .ci/run installs."""

from __future__ import annotations

import asyncio
import http.server
import json
import logging
import secrets
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aria2d import Aria2, free_port, needs_aria2c, running_aria2c
from loopback import LoopbackServer

from tui.download.aria2 import (
    FILES,
    Aria2BadAnswer,
    Aria2CallFailed,
    Aria2Client,
    Aria2SecretRefused,
    Aria2Status,
    Aria2Unreachable,
    is_gid,
    open_client,
    watch,
)
from tui.secret import Secret
from tui.settings import Aria2Settings, SettingsError

SMALL = bytes(range(256)) * 256  # 64 KiB
SLOW_SIZE = 4 << 20
SLOW_CHUNK = 4096


class FileHandler(http.server.BaseHTTPRequestHandler):
    """`/small` at once; `/slow` a trickle that lasts far longer than any test."""

    def do_GET(self) -> None:
        if self.path == "/small":
            self.send_response(200)
            self.send_header("Content-Length", str(len(SMALL)))
            self.end_headers()
            self.wfile.write(SMALL)
            return
        # A resumed download asks for the rest (aria2 fails one it cannot resume).
        start = int(self.headers.get("Range", "bytes=0-").removeprefix("bytes=").split("-")[0])
        self.send_response(206 if start else 200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(SLOW_SIZE - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{SLOW_SIZE - 1}/{SLOW_SIZE}")
        self.end_headers()
        try:
            for offset in range(start, SLOW_SIZE, SLOW_CHUNK):
                self.wfile.write(b"\0" * min(SLOW_CHUNK, SLOW_SIZE - offset))
                time.sleep(0.05)
        except OSError:
            pass  # aria2 hung up: paused or removed

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def files() -> Iterator[str]:
    with LoopbackServer(http.server.ThreadingHTTPServer, FileHandler) as server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture
def aria2(tmp_path: Path) -> Iterator[Aria2]:
    with running_aria2c(tmp_path / "downloads", secrets.token_hex(16)) as daemon:
        yield daemon


async def until(client: Aria2Client, gid: str, done: Callable[[Aria2Status], bool]) -> Aria2Status:
    """aria2's status of `gid` once `done` holds (it moves on by itself)."""
    for _ in range(400):
        status = await client.tell_status(gid)
        if done(status):
            return status
        await asyncio.sleep(0.05)
    pytest.fail(f"the download never got there: {status}")


@needs_aria2c
async def test_a_file_downloads_to_the_end(aria2: Aria2, files: str) -> None:
    async with Aria2Client(aria2.url, aria2.secret) as client:
        version = await client.get_version()
        assert version.version
        gid = await client.add_uri(
            f"{files}/small", str(aria2.folder), "small.bin", 4, max_connection_per_server=2
        )
        seen: list[Aria2Status] = []
        status = await watch(client, gid, seen.append, every=0.05)
        assert status.status == "complete" and status.ended
        assert seen[-1] == status and len(seen) == len(set(seen))
        assert status.total_length == status.completed_length == len(SMALL)
        assert (aria2.folder / "small.bin").read_bytes() == SMALL
        where = await client.tell_status(gid, (FILES,))
        assert where.path == str(aria2.folder / "small.bin")
        await client.remove_download_result(gid)
        with pytest.raises(Aria2CallFailed, match="is not found") as forgotten:
            await client.tell_status(gid)
        assert forgotten.value.forgotten


@needs_aria2c
async def test_a_file_already_there_is_never_overwritten(aria2: Aria2, files: str) -> None:
    (aria2.folder / "small.bin").write_bytes(b"mine")
    # What a user's aria2.conf may say: linkdeck's options win.
    aria2.call("aria2.changeGlobalOption", {"allow-overwrite": "true"})
    async with Aria2Client(aria2.url, aria2.secret) as client:
        gid = await client.add_uri(f"{files}/small", str(aria2.folder), "small.bin", 1, 1)
        await watch(client, gid, lambda status: None, every=0.05)
        where = await client.tell_status(gid, (FILES,))
    assert (aria2.folder / "small.bin").read_bytes() == b"mine"
    assert where.path is not None and Path(where.path).read_bytes() == SMALL


@needs_aria2c
async def test_a_download_pauses_resumes_and_is_removed(aria2: Aria2, files: str) -> None:
    async with Aria2Client(aria2.url, aria2.secret) as client:
        gid = await client.add_uri(f"{files}/slow", str(aria2.folder), "slow.bin", 1, 1)
        await until(client, gid, lambda s: s.status == "active" and bool(s.completed_length))
        assert await client.pause(gid) == gid
        paused = await until(client, gid, lambda s: s.status == "paused")
        assert paused.download_speed == 0 or paused.connections == 0
        assert await client.unpause(gid) == gid
        resumed = await until(client, gid, lambda s: s.status != "paused")
        assert resumed.status in ("active", "waiting"), resumed
        assert await client.remove(gid) == gid
        await until(client, gid, lambda s: s.status == "removed")
        await client.remove_download_result(gid)


@needs_aria2c
async def test_a_wrong_secret_is_refused_without_being_shown(
    aria2: Aria2, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-" + secrets.token_hex(8)
    async with Aria2Client(aria2.url, Secret(wrong)) as client:
        with pytest.raises(Aria2SecretRefused) as refused:
            await client.get_version()
    error = refused.value
    shown = [str(error), repr(error), repr(client), caplog.text]
    for text in shown:
        assert wrong not in text
        assert aria2.secret.reveal() not in text
    assert error.__traceback__ is not None
    assert error.__context__ is None and error.__cause__ is None
    assert "\n" not in str(error)


@needs_aria2c
async def test_the_settings_name_the_aria2_and_its_secret_command(aria2: Aria2) -> None:
    script = f"print({aria2.secret.reveal()!r})"
    command = shlex.join([sys.executable, "-c", script])
    settings = Aria2Settings(rpc_url=aria2.url, secret_command=command)
    client = await open_client(settings)
    async with client:
        assert (await client.get_version()).version
    broken = Aria2Settings(rpc_url=aria2.url, secret_command="/nonexistent/secret-tool")
    with pytest.raises(SettingsError, match="secret_command not found"):
        await open_client(broken)


async def test_aria2_not_running_is_unreachable_within_the_deadline() -> None:
    url = f"http://127.0.0.1:{free_port()}/jsonrpc"
    async with Aria2Client(url, Secret("s3cret-value"), timeout=2) as client:
        with pytest.raises(Aria2Unreachable) as unreachable:
            await asyncio.wait_for(client.get_version(), 5)
    assert "s3cret-value" not in str(unreachable.value)
    assert "cannot be reached" in str(unreachable.value)


# -- answers no aria2 would give ---------------------------------------------------


class FakeRpc(http.server.BaseHTTPRequestHandler):
    """Answers every call with the bytes `owner.answer(request)` makes."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.owner.requests.append(request)  # type: ignore[attr-defined]
        body = self.server.owner.answer(request)  # type: ignore[attr-defined]
        if body is None:  # a server that never answers
            time.sleep(3)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class FakeAria2(LoopbackServer):
    def __init__(self, answer: Callable[[dict], bytes | None]) -> None:
        super().__init__(http.server.ThreadingHTTPServer, FakeRpc)
        self.answer = answer
        self.requests: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jsonrpc"


def result(value: object) -> Callable[[dict], bytes]:
    return lambda request: json.dumps(
        {"jsonrpc": "2.0", "id": request["id"], "result": value}
    ).encode()


STATUS = {"gid": "0123456789abcdef", "status": "active", "totalLength": "10"}
HOSTILE = [
    ("not JSON", lambda request: b"<html>hello</html>", "get_version", "not JSON"),
    ("an array", lambda request: b"[1, 2]", "get_version", "not a JSON-RPC answer"),
    (
        "another id",
        lambda request: b'{"jsonrpc":"2.0","id":"x","result":"OK"}',
        "get_version",
        "not a JSON-RPC answer",
    ),
    ("version not text", result({"version": 5}), "get_version", "no version"),
    ("gid not text", result(12), "pause", "not a GID"),
    ("gid too long", result("0123456789abcdef0"), "pause", "not a GID"),
    ("status unknown", result({**STATUS, "status": "exploded"}), "tell_status", "no known kind"),
    ("length not a count", result({**STATUS, "totalLength": -1}), "tell_status", "no count"),
    ("length a float", result({**STATUS, "totalLength": "1.5"}), "tell_status", "no count"),
    ("result a list", result([STATUS]), "tell_status", "not an object"),
    ("files not a list", result({**STATUS, "files": {"path": "/x"}}), "files", "not a list"),
    ("path not text", result({**STATUS, "files": [{"path": 1}]}), "files", "no path"),
    ("path with NUL", result({**STATUS, "files": [{"path": "/a\0b"}]}), "files", "no path"),
    ("path too long", result({**STATUS, "files": [{"path": "/" * 5000}]}), "files", "no path"),
    (
        "error of no shape",
        lambda request: json.dumps(
            {"jsonrpc": "2.0", "id": request["id"], "error": {"code": "1"}}
        ).encode(),
        "get_version",
        "not of JSON-RPC's shape",
    ),
    ("huge", lambda request: b'{"x":"' + b"a" * (2 << 20) + b'"}', "get_version", "larger than"),
    ("deeply nested", lambda request: b"[" * 100_000, "get_version", "not JSON"),
]


async def call(client: Aria2Client, name: str) -> object:
    if name == "get_version":
        return await client.get_version()
    if name == "pause":
        return await client.pause("0123456789abcdef")
    if name == "files":
        return await client.tell_status("0123456789abcdef", (FILES,))
    return await client.tell_status("0123456789abcdef", ("totalLength",))


@pytest.mark.parametrize(
    ("answer", "method", "says"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE]
)
async def test_hostile_answers_are_a_bad_answer(
    answer: Callable[[dict], bytes], method: str, says: str
) -> None:
    with FakeAria2(answer) as fake:
        async with Aria2Client(fake.url, Secret("s3cret-value")) as client:
            with pytest.raises(Aria2BadAnswer, match=says) as bad:
                await call(client, method)
    assert "s3cret-value" not in str(bad.value)
    assert fake.requests[0]["params"][0] == "token:s3cret-value"


async def test_an_error_echoing_the_secret_does_not_repeat_it() -> None:
    def echo(request: dict) -> bytes:
        message = f"no such download, and your token is {request['params'][0]}\x1b[2J"
        error = {"code": 1, "message": message}
        return json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": error}).encode()

    with FakeAria2(echo) as fake:
        async with Aria2Client(fake.url, Secret("s3cret-value")) as client:
            with pytest.raises(Aria2CallFailed) as failed:
                await client.pause("0123456789abcdef")
    assert "s3cret-value" not in str(failed.value)
    assert "\x1b" not in str(failed.value)
    assert failed.value.code == 1


async def test_a_server_that_never_answers_ends_at_the_deadline() -> None:
    with FakeAria2(lambda request: None) as fake:
        async with Aria2Client(fake.url, Secret("s3cret-value"), timeout=0.5) as client:
            with pytest.raises(Aria2Unreachable, match=r"within 0\.5 s"):
                await client.get_version()


COUNTS = {**STATUS, "completedLength": "0", "downloadSpeed": "0", "connections": "0"}


async def test_watching_tells_each_change_until_the_end() -> None:
    answers = iter(
        [
            {**COUNTS, "status": "waiting"},
            {**COUNTS, "status": "waiting"},
            {**COUNTS, "completedLength": "5"},
            {
                **COUNTS,
                "status": "error",
                "completedLength": "5",
                "errorCode": "3",
                "errorMessage": "Resource not found",
            },
        ]
    )
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)

    with FakeAria2(lambda request: result(next(answers))(request)) as fake:
        async with Aria2Client(fake.url) as client:
            seen: list[Aria2Status] = []
            last = await watch(client, STATUS["gid"], seen.append, every=2, sleep=nap)
    assert [(s.status, s.completed_length) for s in seen] == [
        ("waiting", 0),
        ("active", 5),
        ("error", 5),
    ]
    assert (last.error_code, last.error_message) == (3, "Resource not found")
    assert naps == [2, 2, 2]


async def test_a_status_asks_only_for_its_keys() -> None:
    with FakeAria2(result({**STATUS, "completedLength": "4"})) as fake:
        async with Aria2Client(fake.url) as client:
            status = await client.tell_status("0123456789abcdef", ("completedLength",))
    assert status == Aria2Status(gid=STATUS["gid"], status="active", completed_length=4)
    assert fake.requests[0]["params"] == ["0123456789abcdef", ["gid", "status", "completedLength"]]


def test_a_gid_is_sixteen_hex_digits() -> None:
    assert is_gid("0123456789abcdef")
    for other in (None, 12, "0123456789ABCDEF", "0123456789abcde", "../0123456789abcd"):
        assert not is_gid(other)
