"""One direct link downloaded over one connection or several, against a file
server of the test's own that honours or ignores Range, drops the connection,
stalls, lies about its length, refuses connections beyond a limit or sends
hostile names."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import os
import re
import threading
import time
from collections.abc import AsyncIterator
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
    DownloadError,
    NoRoom,
    Refused,
    SizeMismatch,
    Stalled,
    UnsafePart,
)
from tui.download.fetch import Progress, fetch
from tui.download.plan import Plan, Segment
from tui.download.rate import RateLimiter

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes


class FileServer(LoopbackServer):
    """Serves `payload` at any path, honouring `Range: bytes=a-` and `bytes=a-b`.

    The fault attributes apply to the next answer only; `drops` to the next
    answers, one each. It counts the bytes it sends and the answers open at once.
    """

    def __init__(self) -> None:
        super().__init__(ThreadingHTTPServer, _Handler)
        self.payload = PAYLOAD
        self.etag = '"v1"'
        self.honour_range = True
        self.drop_after: int | None = None
        self.drops: list[int | None] = []
        self.cut: list[str] = []
        """The ranges asked of the answers that were cut."""
        self.stall_after: int | None = None
        self.declared_length: int | None = None
        self.disposition: str | None = None
        self.silent = False
        self.refuse_with: int | None = None
        self.max_open = 0
        """Answers with a body at once; beyond it `busy_status` (0: no limit)."""
        self.busy_status = 503
        self.busy_answers = 0
        self.seconds_per_chunk = 0.0
        self.slow_ranged: int = 0
        """Ranged answers, the next ones, sent ten times slower."""
        self.requests: list[dict[str, str]] = []
        self.sent: list[int] = []
        self.open_now = self.most_open = 0
        self.lock = threading.Lock()
        self.released = threading.Event()

    def url(self, path: str = "/dl/file.bin") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def ranges(self) -> list[str]:
        return [request["Range"] for request in self.requests if "Range" in request]

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
        with server.lock:
            busy = bool(server.max_open) and server.open_now >= server.max_open
            if busy:
                server.busy_answers += 1
            else:
                server.open_now += 1
                server.most_open = max(server.most_open, server.open_now)
        if busy:
            self.send_response(server.busy_status)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        try:
            self.answer(server)
        finally:
            with server.lock:
                server.open_now -= 1

    def answer(self, server: FileServer) -> None:
        payload = server.payload
        asked = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        first, last = 0, len(payload) - 1
        ranged = bool(asked) and server.honour_range and if_range in (None, server.etag)
        if ranged:
            start, _, end = asked.removeprefix("bytes=").partition("-")
            first, last = int(start), int(end) if end else last
            if first >= len(payload):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(payload)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        body = memoryview(payload)[first : last + 1]
        self.send_response(206 if ranged else 200)
        length = server.declared_length if server.declared_length is not None else len(body)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if ranged:
            self.send_header("Content-Range", f"bytes {first}-{last}/{len(payload)}")
        self.send_header("ETag", server.etag)
        if server.disposition:
            self.send_header("Content-Disposition", server.disposition)
        self.end_headers()
        drop = server.drops.pop(0) if server.drops else server.drop_after
        stall, lied = server.stall_after, server.declared_length
        server.drop_after = server.stall_after = server.declared_length = None
        self.close_connection = drop is not None or stall is not None or lied is not None
        pause = server.seconds_per_chunk
        if ranged and server.slow_ranged:
            server.slow_ranged -= 1
            pause *= 10
        if drop is not None:
            server.cut.append(asked or "")
        if stall is not None:
            self.send_body(server, body[:stall], pause)
            self.wfile.flush()
            server.released.wait(60)
            return
        self.send_body(server, body if drop is None else body[:drop], pause)

    def send_body(self, server: FileServer, body: memoryview, pause: float) -> None:
        sent = 0
        try:
            for offset in range(0, len(body), 16384):
                self.wfile.write(body[offset : offset + 16384])
                sent += len(body[offset : offset + 16384])
                if pause:
                    time.sleep(pause)
        finally:
            with server.lock:
                server.sent.append(sent)


@pytest.fixture
def server() -> Any:
    with FileServer() as running:
        yield running


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch_module, "FIRST_BACKOFF_SECONDS", 0.01)


@pytest.fixture
def small_splits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments of PAYLOAD's scale (the real least split is a MiB)."""
    monkeypatch.setattr(fetch_module, "MIN_SPLIT", 8192)


async def failed(client: httpx.AsyncClient, url: str, folder: Path, **options: Any) -> Plan:
    """The plan of a download that stops with a resumable error."""
    with pytest.raises(DownloadError) as stopped:
        await fetch(client, url, folder, **options)
    assert stopped.value.plan is not None, stopped.value
    return stopped.value.plan


async def test_a_whole_file_with_progress(server: FileServer, tmp_path: Path) -> None:
    seen: list[Progress] = []
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), tmp_path, on_progress=seen.append)
    assert path == tmp_path / "file.bin" and path.read_bytes() == PAYLOAD
    assert seen[-1].done == seen[-1].total == len(PAYLOAD)
    assert list(tmp_path.iterdir()) == [path]
    assert server.sent == [len(PAYLOAD)]


async def test_a_dropped_connection_asks_again_from_where_it_stood(
    server: FileServer, tmp_path: Path
) -> None:
    server.drop_after = 30_000
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert server.requests[-1]["Range"] == f"bytes=30000-{len(PAYLOAD) - 1}"
    assert server.requests[-1]["If-Range"] == '"v1"'
    assert sum(server.sent) == len(PAYLOAD)


async def test_a_connection_that_fails_every_try_ends_in_a_plan_to_resume(
    server: FileServer, tmp_path: Path
) -> None:
    server.drops = [30_000, 0, 0, 0, 0]
    async with httpx.AsyncClient() as client:
        plan = await failed(client, server.url(), tmp_path)
        assert plan.done == 30_000 and plan.total == len(PAYLOAD)
        assert plan.segments == (Segment(0, len(PAYLOAD), 30_000),)
        path = await fetch(client, server.url(), tmp_path, plan=plan)
    assert path.read_bytes() == PAYLOAD
    assert sum(server.sent) == len(PAYLOAD)  # nothing fetched twice
    assert server.requests[-1]["Range"] == f"bytes=30000-{len(PAYLOAD) - 1}"


async def test_a_server_that_ignores_range_restarts_from_zero(
    server: FileServer, tmp_path: Path
) -> None:
    server.drops = [50_000, 0, 0, 0, 0]
    async with httpx.AsyncClient() as client:
        plan = await failed(client, server.url(), tmp_path)
        server.honour_range = False
        path = await fetch(client, server.url(), tmp_path, plan=plan)
    assert path.read_bytes() == PAYLOAD and "Range" in server.requests[-1]


async def test_a_changed_file_restarts_from_zero(server: FileServer, tmp_path: Path) -> None:
    server.drops = [50_000, 0, 0, 0, 0]
    async with httpx.AsyncClient() as client:
        plan = await failed(client, server.url(), tmp_path)
        server.etag = '"v2"'
        path = await fetch(client, server.url(), tmp_path, plan=plan)
    assert path.read_bytes() == PAYLOAD


async def test_a_stalled_connection_asks_again(server: FileServer, tmp_path: Path) -> None:
    server.stall_after = 10_000
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), tmp_path, stall_seconds=0.3)
    assert path.read_bytes() == PAYLOAD
    assert server.requests[-1]["Range"] == f"bytes=10000-{len(PAYLOAD) - 1}"


async def test_a_server_that_sends_nothing_stalls(server: FileServer, tmp_path: Path) -> None:
    server.silent = True
    async with httpx.AsyncClient() as client:
        with pytest.raises(Stalled, match="sent nothing") as stalled:
            await fetch(client, server.url(), tmp_path, stall_seconds=0.3)
    assert stalled.value.plan is None and list(tmp_path.iterdir()) == []


async def test_a_body_shorter_than_its_length_is_resumable(
    server: FileServer, tmp_path: Path
) -> None:
    server.declared_length = len(PAYLOAD) + 5
    async with httpx.AsyncClient() as client:
        plan = await failed(client, server.url(), tmp_path)
    assert plan.done == len(PAYLOAD) and plan.total == len(PAYLOAD) + 5


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
    real_pwrite = os.pwrite
    writes = 0

    def fill_up(fd: int, data: bytes, offset: int) -> int:
        nonlocal writes
        writes += 1
        if writes > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", fill_up)
    async with httpx.AsyncClient() as client:
        with pytest.raises(DiskFull, match="kept for a resume") as full:
            await fetch(client, server.url(), tmp_path)
        monkeypatch.setattr(os, "pwrite", real_pwrite)
        plan = full.value.plan
        assert plan is not None and plan.part.exists() and 0 < plan.done < len(PAYLOAD)
        path = await fetch(client, server.url(), tmp_path, plan=plan)
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
    server.drops = [40_000, 0, 0, 0, 0]
    async with httpx.AsyncClient() as client:
        plan = await failed(client, server.url(), tmp_path)
        path = await fetch(client, server.url(), tmp_path, plan=plan, resume_allowed=False)
    assert path == tmp_path / "file.bin" and path.read_bytes() == PAYLOAD
    assert "Range" not in server.requests[-1]


async def test_without_resume_a_drop_is_not_asked_again(server: FileServer, tmp_path: Path) -> None:
    server.drop_after = 40_000
    async with httpx.AsyncClient() as client:
        with pytest.raises(ConnectionLost, match="broke after 40,000 bytes"):
            await fetch(client, server.url(), tmp_path, resume_allowed=False, connections=4)
    assert len(server.requests) == 1


async def test_an_expired_link_keeps_the_part_for_a_new_one(
    server: FileServer, tmp_path: Path
) -> None:
    server.drops = [40_000, 0, 0, 0, 0]
    async with httpx.AsyncClient() as client:
        plan = await failed(client, server.url(), tmp_path)
        server.refuse_with = 410
        with pytest.raises(Refused, match="HTTP 410") as refused:
            await fetch(client, server.url(), tmp_path, plan=plan)
        assert refused.value.plan == plan
        path = await fetch(client, server.url("/new/link"), tmp_path, plan=plan)
    assert path == tmp_path / "file.bin" and path.read_bytes() == PAYLOAD


async def test_a_part_complete_already_is_finished(server: FileServer, tmp_path: Path) -> None:
    part = files.open_part(tmp_path, "whole.bin")
    os.pwrite(part.fd, PAYLOAD, 0)
    os.close(part.fd)
    whole = Plan(part.path, '"v1"', len(PAYLOAD), (Segment(0, len(PAYLOAD), len(PAYLOAD)),))
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), tmp_path, plan=whole)
    assert path == tmp_path / "whole.bin" and path.read_bytes() == PAYLOAD


async def test_too_little_free_space_stops_before_any_file(
    server: FileServer, tmp_path: Path
) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(NoRoom, match="bytes free"):
            await fetch(client, server.url(), tmp_path, min_free_space=2**62)
    assert list(tmp_path.iterdir()) == []


async def test_a_part_that_vanished_starts_afresh(server: FileServer, tmp_path: Path) -> None:
    gone = Plan(tmp_path / "gone.bin.part", '"v1"', len(PAYLOAD), (Segment(0, len(PAYLOAD), 9),))
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), tmp_path, plan=gone)
    assert path == tmp_path / "file.bin" and path.read_bytes() == PAYLOAD
    assert "Range" not in server.requests[-1]


async def test_a_part_replaced_by_a_symlink_is_refused(server: FileServer, tmp_path: Path) -> None:
    server.drops = [40_000, 0, 0, 0, 0]
    secret = tmp_path / "secret"
    secret.write_bytes(b"keep")
    async with httpx.AsyncClient() as client:
        plan = await failed(client, server.url(), tmp_path)
        plan.part.unlink()
        plan.part.symlink_to(secret)
        with pytest.raises(UnsafePart, match="not a regular file"):
            await fetch(client, server.url(), tmp_path, plan=plan)
    assert secret.read_bytes() == b"keep"


async def test_a_plan_naming_a_part_elsewhere_is_refused(
    server: FileServer, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.part"
    elsewhere.write_bytes(b"keep")
    folder = tmp_path / "dl"
    folder.mkdir()
    plan = Plan(elsewhere, '"v1"', len(PAYLOAD), (Segment(0, len(PAYLOAD), 1),))
    async with httpx.AsyncClient() as client:
        with pytest.raises(UnsafePart):
            await fetch(client, server.url(), folder, plan=plan)
    assert elsewhere.read_bytes() == b"keep" and server.requests == []


async def test_progress_is_told_at_most_ten_times_a_second_of_the_clock(
    server: FileServer, tmp_path: Path
) -> None:
    seen: list[Progress] = []
    async with httpx.AsyncClient() as client:
        await fetch(client, server.url(), tmp_path, on_progress=seen.append, clock=lambda: 0.0)
    assert len(seen) == 2 and seen[-1].done == len(PAYLOAD)  # the first chunk, the end


async def test_the_speed_is_over_the_last_seconds_of_the_injected_clock(
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
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert all(p.speed <= p.done for p in seen) and seen[-1].speed > 0


async def test_waiting_for_the_rate_limit_is_no_stall(server: FileServer, tmp_path: Path) -> None:
    limiter = RateLimiter(150_000)
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), tmp_path, limiter=limiter, stall_seconds=0.2)
    assert path.read_bytes() == PAYLOAD and server.sent == [len(PAYLOAD)]


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


async def test_a_cancelled_download_resumes_from_the_plan_it_told(
    server: FileServer, tmp_path: Path
) -> None:
    server.stall_after = 20_000
    told: list[Plan] = []
    async with httpx.AsyncClient() as client:
        task = asyncio.create_task(fetch(client, server.url(), tmp_path, on_plan=told.append))
        while not told or told[0].part.stat().st_size == 0:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert told[0].part == tmp_path / "file.bin.part" and told[0].validator == '"v1"'
        assert told[-1].done == 20_000
        path = await fetch(client, server.url(), tmp_path, plan=told[-1])
    assert path.read_bytes() == PAYLOAD and server.requests[-1]["Range"].startswith("bytes=20000-")


async def test_a_resume_that_finds_another_size_drops_the_part(
    server: FileServer, tmp_path: Path
) -> None:
    server.drops = [10_000, 0, 0, 0, 0]
    async with httpx.AsyncClient() as client:
        plan = await failed(client, server.url(), tmp_path)
        with pytest.raises(SizeMismatch) as wrong:
            await fetch(client, server.url(), tmp_path, plan=plan, expected_size=5)
    assert wrong.value.plan is None and list(tmp_path.iterdir()) == []


# Several connections.


async def test_a_file_is_split_over_the_connections_asked(
    server: FileServer, tmp_path: Path, small_splits: None
) -> None:
    server.seconds_per_chunk = 0.02  # so that the connections overlap
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), tmp_path, connections=4)
    assert path.read_bytes() == PAYLOAD
    assert server.most_open == 4
    assert "Range" not in server.requests[0]
    assert all(re.fullmatch(r"bytes=\d+-\d+", asked) for asked in server.ranges)
    assert len(server.ranges) >= 3


async def test_a_connection_done_early_takes_half_of_what_a_slow_one_has_left(
    server: FileServer, tmp_path: Path, small_splits: None
) -> None:
    server.seconds_per_chunk = 0.005
    server.slow_ranged = 1  # the second connection's answer
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), tmp_path, connections=2)
    assert path.read_bytes() == PAYLOAD
    second, _, end = server.ranges[0].removeprefix("bytes=").partition("-")
    assert int(second) >= len(PAYLOAD) // 2 and int(end) == len(PAYLOAD) - 1
    stolen = int(server.ranges[1].removeprefix("bytes=").partition("-")[0])
    assert int(second) < stolen < len(PAYLOAD)
    assert sum(server.sent) < len(PAYLOAD) + 16384 * 3  # what was in flight, at most


async def test_connections_beyond_the_servers_limit_leave_it_to_the_others(
    server: FileServer, tmp_path: Path, small_splits: None
) -> None:
    server.max_open = 2
    server.seconds_per_chunk = 0.01
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), tmp_path, connections=4)
    assert path.read_bytes() == PAYLOAD
    assert server.most_open == 2 and server.busy_answers >= 2


@pytest.mark.parametrize("status", [429, 503])
async def test_the_first_connection_refused_is_a_failure(
    server: FileServer, tmp_path: Path, status: int
) -> None:
    server.refuse_with = status
    async with httpx.AsyncClient() as client:
        with pytest.raises(Refused, match=f"HTTP {status}"):
            await fetch(client, server.url(), tmp_path, connections=4)


async def test_a_drop_mid_segment_asks_again_for_that_segment_only(
    server: FileServer, tmp_path: Path, small_splits: None
) -> None:
    server.seconds_per_chunk = 0.01
    server.drops = [None, None, 20_000]  # the first two answers whole, the third cut
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), tmp_path, connections=3)
    assert path.read_bytes() == PAYLOAD
    [cut] = server.cut
    start = int(cut.removeprefix("bytes=").partition("-")[0])
    assert any(asked.startswith(f"bytes={start + 20_000}-") for asked in server.ranges)


async def test_slots_limit_the_connections_across_files(
    server: FileServer, tmp_path: Path, small_splits: None
) -> None:
    server.seconds_per_chunk = 0.005
    slots = asyncio.Semaphore(2)
    held = most = 0

    @contextlib.asynccontextmanager
    async def slot() -> AsyncIterator[None]:
        nonlocal held, most
        async with slots:
            held += 1
            most = max(most, held)
            try:
                yield
            finally:
                held -= 1

    async with httpx.AsyncClient() as client:
        paths = await asyncio.gather(
            *(
                fetch(
                    client,
                    server.url(f"/dl/{n}.bin"),
                    tmp_path,
                    connections=4,
                    connection_slot=slot,
                )
                for n in range(2)
            )
        )
    assert [path.read_bytes() for path in paths] == [PAYLOAD, PAYLOAD]
    assert most == 2 and server.most_open <= 2


async def test_plans_are_told_as_the_segments_go(
    server: FileServer, tmp_path: Path, small_splits: None
) -> None:
    server.seconds_per_chunk = 0.005
    told: list[Plan] = []
    async with httpx.AsyncClient() as client:
        await fetch(client, server.url(), tmp_path, connections=3, on_plan=told.append)
    assert told[0].done == 0 and told[0].total == len(PAYLOAD)
    assert any(len(plan.segments) > 1 for plan in told)
    for plan in told:
        assert Plan.from_json(plan.to_json()) == plan
    assert told[-1].segments == (Segment(0, len(PAYLOAD), len(PAYLOAD)),)


async def test_a_resume_of_a_split_plan_fetches_only_what_is_missing(
    server: FileServer, tmp_path: Path
) -> None:
    third = len(PAYLOAD) // 3
    part = files.open_part(tmp_path, "file.bin")
    os.pwrite(part.fd, PAYLOAD[:1000], 0)
    os.pwrite(part.fd, PAYLOAD[third : third + 5000], third)
    os.close(part.fd)
    plan = Plan(
        part.path,
        '"v1"',
        len(PAYLOAD),
        (
            Segment(0, third, 1000),
            Segment(third, 2 * third, 5000),
            Segment(2 * third, len(PAYLOAD), 0),
        ),
    )
    async with httpx.AsyncClient() as client:
        path = await fetch(client, server.url(), tmp_path, plan=plan, connections=3)
    assert path.read_bytes() == PAYLOAD
    assert sum(server.sent) == len(PAYLOAD) - 6000
