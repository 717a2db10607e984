"""One direct link downloaded to a folder, over up to N httpx connections.

It streams into `NAME.part` (see `files`). The first connection asks for the
file (from where a resumed plan's first open segment stands, with `Range` and
`If-Range` on the validator the server sent then) and learns its size, name
and whether it takes ranges. When it does and the hoster allows a resume,
the file is split into segments, one a connection: the first connection
streams on and stops at the end of its own, the others ask for theirs with
`Range: bytes=a-b`, and each writes at its offsets of the preallocated
`.part`. A connection whose segment is done takes one nobody has, else splits
the one with most left (so connections end together). One connection is the
same path with one segment; without ranges it is the only one.

A server that ignores the range (200) or whose file changed starts the file
again from byte 0; the size is checked against the server's length and the
one expected. A dropped or stalled connection asks again for its segment
from where it is (a few tries, with a backoff) while the others go on; a
connection refused for the server's limits (429, 503) leaves its segment to
the others and tries again later. No download hangs for ever: a stall
detector per connection and a deadline on the whole end it with a typed,
resumable error carrying the plan, as do a full disk and a refusal.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import errno
import ipaddress
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import TracebackType

import httpcore
import httpx

from tui.download import files
from tui.download.failures import (
    BadRedirect,
    ConnectionLost,
    DeadlinePassed,
    DiskFull,
    DownloadError,
    EncodedBody,
    FileChanged,
    RangeIgnored,
    Refused,
    SizeMismatch,
    Stalled,
    UnsafePart,
)
from tui.download.names import download_name
from tui.download.plan import Plan, Segment
from tui.download.rate import RateLimiter
from tui.untrusted import plain

CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
DEFAULT_STALL_SECONDS = 60.0
DEFAULT_DEADLINE_SECONDS = 24 * 3600.0
MIN_SPLIT = 1 << 20
"""The least a split leaves either side: below it a new request costs more than it saves."""
PLAN_EVERY_SECONDS = 0.5
PLAN_EVERY_BYTES = 8 << 20
"""What a killed process may have to fetch again at most, besides what was in flight."""
PROGRESS_EVERY_SECONDS = 0.1
SPEED_WINDOW_SECONDS = 5.0
TRIES = 4
"""Attempts in a row of one segment that bring no byte before the download fails."""
FIRST_BACKOFF_SECONDS = 0.25
BUSY_SECONDS = 5.0
"""How long a connection refused for the server's limits waits without a Retry-After."""
MAX_BUSY_SECONDS = 60.0
BUSY = frozenset({429, 503})
READ_BYTES = 512 * 1024
"""Bytes a read of a body takes at most. The Python cost per chunk is what
bounds the throughput on a fast link (tests/bench/bench_download.py), and
httpcore reads 64 KiB at a time, from an asyncio transport that receives
256 KiB: both are raised (see `_read_more`). Larger reads cost more memory
(the peak RSS over 1 GB grew from 8 to 17 MiB at 1 MiB) for little more speed."""
if getattr(httpcore.AsyncHTTP11Connection, "READ_NUM_BYTES", READ_BYTES) < READ_BYTES:
    httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = READ_BYTES


@dataclasses.dataclass(frozen=True)
class Progress:
    done: int
    total: int | None
    speed: float
    """Bytes per second over the last few seconds."""
    connections: int
    """Connections open now."""


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    folder: Path,
    *,
    answer_filename: str | None = None,
    expected_size: int | None = None,
    plan: Plan | None = None,
    resume_allowed: bool = True,
    connections: int = 1,
    connection_slot: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    limiter: RateLimiter | None = None,
    min_free_space: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    stall_seconds: float = DEFAULT_STALL_SECONDS,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Path:
    """Download `url` into `folder`; the finished file's path.

    `plan` is the last one `on_plan` heard (or a resumable error's) of an
    earlier attempt; without `resume_allowed` (the hoster's word) its `.part`
    is filled again from byte 0 over one connection. `connection_slot()` is
    held by every connection while it is open (the per-hoster limit across
    files): the first waits for one, the others take what they can get.
    `on_plan` hears of the plan once the `.part` is open, then at least every
    `PLAN_EVERY_SECONDS` or `PLAN_EVERY_BYTES` and at the end of a segment:
    what a resume after a cancel or a crash needs, to keep."""
    download = _Download(
        client,
        url,
        folder,
        connections=max(1, connections),
        connection_slot=connection_slot or _no_limit,
        limiter=limiter,
        on_progress=on_progress,
        on_plan=on_plan,
        stall_seconds=stall_seconds,
        clock=clock,
    )
    try:
        async with asyncio.timeout(deadline_seconds):
            return await download.run(
                answer_filename, expected_size, plan, resume_allowed, min_free_space
            )
    except TimeoutError:
        raise download.resumable(DeadlinePassed(deadline_seconds)) from None
    except DownloadError as error:
        raise download.resumable(error) from error.__cause__
    except httpx.UnsupportedProtocol as error:
        raise BadRedirect("The download host redirected to a link that is not http(s).") from error
    except httpx.TooManyRedirects as error:
        raise BadRedirect("The download host redirected too many times.") from error
    except httpx.TransportError as error:  # a stall (Stalled) or a broken connection
        raise download.resumable(_failure(error, download.done, stall_seconds)) from error
    except OSError as error:
        if error.errno == errno.ENOSPC and download.part is not None:
            raise download.resumable(DiskFull(download.part.path)) from error
        raise
    finally:
        download.close()


@contextlib.asynccontextmanager
async def _no_limit() -> AsyncIterator[None]:
    yield


class _Segment:
    """A segment as it is being written: its end moves down when it is split."""

    __slots__ = ("end", "owned", "position", "start", "throttled")

    def __init__(self, start: int, end: int | None, position: int) -> None:
        self.start, self.end, self.position = start, end, position
        self.owned = False
        self.throttled = False
        """Waiting for the rate limit: not a stall."""

    @property
    def left(self) -> int:
        return 0 if self.end is None else self.end - self.position

    @property
    def finished(self) -> bool:
        return self.end is not None and self.position >= self.end


class _Busy(Exception):
    """The server refused one more connection; try again after `seconds`."""

    def __init__(self, status: int, seconds: float) -> None:
        self.status, self.seconds = status, seconds


class _Dropped(Exception):
    """A body that ended before the segment did."""


class _Download:
    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        folder: Path,
        *,
        connections: int,
        connection_slot: Callable[[], AbstractAsyncContextManager[None]],
        limiter: RateLimiter | None,
        on_progress: Callable[[Progress], None] | None,
        on_plan: Callable[[Plan], None] | None,
        stall_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        # Absolute: the plan names the `.part` for a process that may run elsewhere.
        self.client, self.url, self.folder = client, url, folder.absolute()
        self.connections, self.connection_slot = connections, connection_slot
        self.limiter, self.on_progress, self.on_plan = limiter, on_progress, on_plan
        self.stall_seconds, self.clock = stall_seconds, clock
        self.part: files.PartFile | None = None
        self.validator: str | None = None
        self.total: int | None = None
        self.segments: list[_Segment] = []
        self.ranges = False
        """Whether a connection may ask for a part of the file."""
        self.open = 0
        self.done = 0
        self.failure: BaseException | None = None
        self.settled = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.samples: collections.deque[tuple[float, int]] = collections.deque()
        self.report_at = self.plan_at = 0.0
        self.plan_at_bytes = 0

    # The plan, progress and the end of a download.

    def plan(self) -> Plan:
        """The plan as it stands, with the finished segments merged into the next."""
        assert self.part is not None
        merged: list[Segment] = []
        for live in self.segments:
            segment = Segment(live.start, live.end, live.position - live.start)
            if merged and merged[-1].finished:
                before = merged.pop()
                segment = Segment(before.start, live.end, before.done + segment.done)
            merged.append(segment)
        return Plan(self.part.path, self.validator, self.total, tuple(merged))

    def resumable(self, error: DownloadError) -> DownloadError:
        return error if self.part is None else error.resumable(self.plan())

    def save_plan(self) -> None:
        self.plan_at = self.clock() + PLAN_EVERY_SECONDS
        self.plan_at_bytes = self.done + PLAN_EVERY_BYTES
        if self.on_plan is not None:
            self.on_plan(self.plan())

    def report(self, now: float) -> None:
        self.report_at = now + PROGRESS_EVERY_SECONDS
        if now >= self.plan_at:
            self.save_plan()
        if self.on_progress is None:
            return
        samples = self.samples
        samples.append((now, self.done))
        while len(samples) > 2 and now - samples[1][0] >= SPEED_WINDOW_SECONDS:
            samples.popleft()
        since, then = samples[0]
        speed = (self.done - then) / (now - since) if now > since else 0.0
        self.on_progress(Progress(self.done, self.total, speed, self.open))

    def close(self) -> None:
        if self.part is not None and self.part.fd >= 0:
            os.close(self.part.fd)
            self.part.fd = -1

    def discard(self) -> None:
        """Remove the `.part`: its bytes are not those of the file expected."""
        if self.part is not None:
            self.close()
            self.part.path.unlink(missing_ok=True)
            self.part = None

    async def finish(self, expected_size: int | None) -> Path:
        assert self.part is not None
        if self.on_progress is not None:
            self.report(self.clock())
        for size in (self.total, expected_size):
            if size is not None and self.done != size:
                done = self.done
                self.discard()
                raise SizeMismatch(done, size)
        # fsync may take seconds on a large file: off the event loop. The
        # thread owns the descriptor from here (it closes it), even if this
        # task is cancelled meanwhile.
        handed = dataclasses.replace(self.part)
        self.part.fd = -1
        return await asyncio.to_thread(files.finish, handed)

    # The first connection: what the file is.

    async def run(
        self,
        answer_filename: str | None,
        expected_size: int | None,
        plan: Plan | None,
        resume_allowed: bool,
        min_free_space: int,
    ) -> Path:
        first = self.reopen(plan, resume_allowed)
        if self.segments and all(segment.finished for segment in self.segments):
            return await self.finish(expected_size)
        headers = {"Accept-Encoding": "identity"}
        if self.done and self.validator:
            # Up to the segment's end: the others may be had over other connections.
            last = "" if first.end is None else str(first.end - 1)
            headers["Range"] = f"bytes={first.position}-{last}"
            headers["If-Range"] = self.validator
        elif self.part is not None:
            files.restart(self.part)
            first = _Segment(0, None, 0)
            self.done, self.segments, self.total = 0, [first], None
        async with contextlib.AsyncExitStack() as held:
            await held.enter_async_context(self.connection_slot())
            self.open = 1
            async with _Watchdog(first, self.stall_seconds):
                response = await self.send(self.url, headers)
            held.push_async_callback(response.aclose)
            first = self.learn(response, first, "Range" in headers, resume_allowed)
            total = self.total
            if expected_size is not None and total is not None and total != expected_size:
                self.discard()
                raise SizeMismatch(total, expected_size)
            self.validator = _validator(response) or self.validator
            needed = self.total - self.done if self.total is not None else 0
            files.check_room(self.folder, needed, min_free_space)
            if self.part is None:
                name = download_name(
                    response.headers.get("content-disposition"),
                    answer_filename,
                    str(response.url),
                )
                self.part = files.open_part(self.folder, name)
            if self.total is not None:  # sparse: each connection writes at its offsets
                os.ftruncate(self.part.fd, self.total)
            self.url = str(response.url)  # the others skip the redirects
            self.samples.append((self.clock(), self.done))
            self.save_plan()
            self.start(self.first_connection(held.pop_all(), first, response))
        if self.ranges:
            for _ in range(self.connections - 1):
                self.start(self.extra_connection())
        try:
            await self.settled.wait()
        finally:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            self.save_plan()  # exactly where it stopped, for a resume after a cancel
        if self.failure is not None:
            raise self.failure  # `fetch` hands a DownloadError the plan
        return await self.finish(expected_size)

    def reopen(self, plan: Plan | None, resume_allowed: bool) -> _Segment:
        """Take up the `.part` of `plan`; the segment the first connection asks for."""
        if plan is not None and plan.part.parent != self.folder:
            raise UnsafePart(plan.part)  # a plan is read from a database: never written through
        if plan is not None:
            try:
                self.part = files.reopen_part(plan.part)
            except FileNotFoundError:
                plan = None  # the user deleted it: a fresh start under a fresh name
        if plan is None or not resume_allowed:
            self.segments = [_Segment(0, None, 0)]
            return self.segments[0]
        self.validator, self.total = plan.validator, plan.total
        self.segments = [_Segment(s.start, s.end, s.start + s.done) for s in plan.segments]
        self.done = plan.done
        return next((s for s in self.segments if not s.finished), self.segments[0])

    def same_file(self, response: httpx.Response) -> None:
        """A part of the file whose validator the plan holds, or FileChanged: a
        host that ignores If-Range must not have another file's bytes stitched in."""
        validator = _validator(response)
        if self.validator and validator and validator != self.validator:
            raise FileChanged

    def learn(
        self, response: httpx.Response, first: _Segment, ranged: bool, resume_allowed: bool
    ) -> _Segment:
        """The file's size and whether it can be split, from the first answer;
        restarts the `.part` when the server sends the whole file instead of
        the range asked. The segment the answer's body fills."""
        status = response.status_code
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if status in (200, 206) and encoding not in ("", "identity"):
            raise EncodedBody(plain(encoding, 40))
        if status == 206 and ranged:
            match = CONTENT_RANGE.fullmatch(response.headers.get("content-range", ""))
            if match is None or int(match[1]) != first.position:
                raise Refused(status)
            total = int(match[3])
            if self.total is not None and total != self.total:
                raise Refused(status)
            self.same_file(response)
            if self.total is None:
                first.end = self.total = total
        elif status == 200:
            if self.part is not None:
                files.restart(self.part)
            length = response.headers.get("content-length", "")
            self.total = int(length) if length.isdigit() else None
            first = _Segment(0, self.total, 0)
            self.segments, self.done = [first], 0
        else:
            # An expired link (403, 404, 410) keeps the `.part` for a new one.
            raise Refused(status)
        self.ranges = (
            resume_allowed
            and self.total is not None
            and (status == 206 or response.headers.get("accept-ranges", "").lower() == "bytes")
        )
        return first

    # Connections.

    def start(self, work: Coroutine[None, None, None]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.ended)

    def ended(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self.failure is None:
            self.failure = task.exception()
            self.settled.set()
        elif self.open == 0 and not self.settled.is_set() and not self.tasks:
            self.failure = ConnectionLost(self.done)  # nothing left that could go on
            self.settled.set()

    def segment_finished(self) -> None:
        self.save_plan()
        if all(segment.finished for segment in self.segments):
            self.settled.set()

    async def first_connection(
        self, held: contextlib.AsyncExitStack, first: _Segment, response: httpx.Response
    ) -> None:
        """Streams the first answer, then goes on as any connection (one
        refused later for the server's limits just ends: the others go on)."""
        async with held:  # the slot and the first response
            first.owned = True
            try:
                await self.connection(first, response)
            finally:
                self.open -= 1

    async def extra_connection(self) -> None:
        """One connection more, when a slot is free and a segment is worth it;
        after a refusal for the server's limits, again later."""
        while True:
            async with self.connection_slot():
                segment = self.claim()
                if segment is None:
                    return
                self.open += 1
                try:
                    wait = await self.connection(segment, None)
                finally:
                    self.open -= 1
            if wait is None:
                return
            await asyncio.sleep(wait)

    def claim(self) -> _Segment | None:
        """A segment nobody writes, else the second half of the one with most left."""
        for segment in self.segments:
            if not segment.owned and not segment.finished:
                segment.owned = True
                return segment
        victim = max(self.segments, key=lambda segment: segment.left)
        if victim.left < 2 * MIN_SPLIT:
            return None
        assert victim.end is not None
        cut = victim.position + victim.left // 2
        stolen = _Segment(cut, victim.end, cut)
        victim.end = cut
        stolen.owned = True
        self.segments.insert(self.segments.index(victim) + 1, stolen)
        return stolen

    async def connection(
        self, segment: _Segment | None, response: httpx.Response | None
    ) -> float | None:
        """Fills segments until none is left to claim; or, refused for the
        server's limits while others are open, leaves its segment to them and
        says how long to wait before trying again."""
        while segment is not None:
            try:
                await self.fill(segment, response)
            except _Busy as busy:
                segment.owned = False
                return busy.seconds
            response = None
            self.segment_finished()
            segment = self.claim()
        return None

    async def fill(self, segment: _Segment, response: httpx.Response | None) -> None:
        """Writes `segment` to its end, asking again after a drop or a stall."""
        failures = 0
        while not segment.finished:
            before = segment.position
            try:
                async with _Watchdog(segment, self.stall_seconds):
                    if response is None:
                        response = await self.ask(segment)
                    await self.stream(segment, response)
                if segment.end is None:  # a file of unknown size ends with its body
                    segment.end = self.total = segment.position
                elif not segment.finished:
                    raise _Dropped
            except (httpx.TransportError, _Dropped, Stalled, _Busy) as error:
                if not self.ranges:
                    raise _failure(error, self.done, self.stall_seconds) from error
                if isinstance(error, _Busy) and self.open > 1:
                    raise  # the others go on
                failures = 0 if segment.position > before else failures + 1
                if failures >= TRIES:
                    raise _failure(error, self.done, self.stall_seconds) from error
                wait = FIRST_BACKOFF_SECONDS * 2 ** (failures - 1)
                if isinstance(error, _Busy) and failures > 1:
                    # The first refusal may count a connection of ours that
                    # closed a moment ago: asked again soon; then as the server says.
                    wait = max(wait, error.seconds)
                await asyncio.sleep(wait)
            finally:
                if response is not None:
                    await response.aclose()
                    response = None

    async def send(self, url: str, headers: dict[str, str]) -> httpx.Response:
        request = self.client.build_request(
            "GET",
            url,
            headers=headers,
            # httpx's own timeouts (5 s by default) would end a slow read
            # before the stall detector, as a broken connection.
            timeout=httpx.Timeout(2 * self.stall_seconds),
        )
        response = await self.client.send(request, stream=True, follow_redirects=True)
        if response.history and _local(response.url) and not _local(request.url):
            await response.aclose()
            raise BadRedirect(
                "The download host redirected to this machine or its local network"
                f" ({plain(response.url.host, 60)}); not followed."
            )
        _read_more(response)
        return response

    async def ask(self, segment: _Segment) -> httpx.Response:
        """An answer with the bytes of `segment` from where it stands."""
        assert segment.end is not None
        headers = {
            "Accept-Encoding": "identity",
            "Range": f"bytes={segment.position}-{segment.end - 1}",
        }
        if self.validator:
            headers["If-Range"] = self.validator
        response = await self.send(self.url, headers)
        status = response.status_code
        if status == 206:
            match = CONTENT_RANGE.fullmatch(response.headers.get("content-range", ""))
            if match and int(match[1]) == segment.position and int(match[3]) == self.total:
                self.same_file(response)
                return response
        await response.aclose()
        if status in BUSY:
            raise _Busy(status, _retry_after(response))
        if status == 200:
            raise RangeIgnored  # the file changed: a resume starts it again
        raise Refused(status)

    async def stream(self, segment: _Segment, response: httpx.Response) -> None:
        """Writes the body at the segment's position until its end (which a
        split may move) or the body's."""
        assert self.part is not None
        fd, limiter, clock = self.part.fd, self.limiter, self.clock
        async for chunk in response.aiter_raw():
            if limiter is not None and limiter.rate:  # no limit: no wait to enter
                segment.throttled = True
                try:
                    await limiter.take(len(chunk))
                finally:
                    segment.throttled = False
            end = segment.end
            if end is not None and segment.position + len(chunk) >= end:
                self.write(fd, segment, memoryview(chunk)[: end - segment.position])
                return
            self.write(fd, segment, chunk)
            if self.done >= self.plan_at_bytes:
                self.save_plan()
            now = clock()
            if now >= self.report_at:
                self.report(now)

    def write(self, fd: int, segment: _Segment, data: bytes | memoryview) -> None:
        while True:
            written = os.pwrite(fd, data, segment.position)
            segment.position += written
            self.done += written
            if written == len(data):
                return
            data = memoryview(data)[written:]  # pwrite may write less than all of it


class _Watchdog:
    """Ends the connection's current attempt with Stalled when the segment's
    position has not moved for `seconds` (looked at every quarter of it: no
    cost per chunk)."""

    def __init__(self, segment: _Segment, seconds: float) -> None:
        self.segment, self.seconds = segment, seconds
        self.fired = False

    async def __aenter__(self) -> None:
        self.task = asyncio.current_task()
        assert self.task is not None
        self.cancelling = self.task.cancelling()  # cancels asked of the task by others
        self.loop = asyncio.get_running_loop()
        self.seen, self.since = self.segment.position, self.loop.time()
        self.handle = self.loop.call_later(self.seconds / 4, self.look)

    def look(self) -> None:
        now = self.loop.time()
        if self.segment.position != self.seen or self.segment.throttled:
            self.seen, self.since = self.segment.position, now
        elif now - self.since >= self.seconds * 0.999:
            self.fired = True
            assert self.task is not None
            self.task.cancel()
            return
        self.handle = self.loop.call_later(self.seconds / 4, self.look)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.handle.cancel()
        assert self.task is not None
        # As asyncio.timeout does: our cancel is taken back whatever ended the
        # attempt, and it becomes Stalled unless someone else cancelled too.
        taken_back = self.fired and self.task.uncancel() <= self.cancelling
        if taken_back and kind is asyncio.CancelledError:
            raise Stalled(self.seconds) from None


def _read_more(response: httpx.Response) -> None:
    """Lets the asyncio transport under this answer receive `READ_BYTES` at
    once. It is reached through attributes of httpcore's and anyio's own:
    when they are not there (another backend, another version), the
    transport keeps its size and only the throughput suffers."""
    stream = response.extensions.get("network_stream")
    transport = getattr(getattr(stream, "_stream", None), "_transport", None)
    if isinstance(getattr(transport, "max_size", None), int) and transport.max_size < READ_BYTES:
        transport.max_size = READ_BYTES


def _failure(error: BaseException, done: int, stall_seconds: float) -> DownloadError:
    """The one-sentence error for a connection that could not go on."""
    if isinstance(error, Stalled):
        return error
    if isinstance(error, httpx.TimeoutException):  # a connect or a write that stalled
        return Stalled(stall_seconds)
    if isinstance(error, _Busy):
        return Refused(error.status)
    return ConnectionLost(done)


def _retry_after(response: httpx.Response) -> float:
    """The seconds a refusal asks to wait, within reason (a date is not read)."""
    value = response.headers.get("retry-after", "")
    seconds = float(value) if value.isascii() and value.isdigit() else BUSY_SECONDS
    return min(seconds, MAX_BUSY_SECONDS)


def _local(url: httpx.URL) -> bool:
    """Whether `url` names this machine or a private network by its address
    (a name is not resolved here)."""
    host = url.host
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def _validator(response: httpx.Response) -> str | None:
    """What `If-Range` may carry: a strong ETag, else Last-Modified."""
    etag = response.headers.get("etag")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("last-modified")
