"""One direct link downloaded to a folder over one httpx connection.

It streams into `NAME.part` (see `files`), resumes a `.part` of an earlier
attempt with `Range: bytes=N-` and `If-Range` on the validator the server
sent then, starts again from byte 0 when the server ignores the range (200
instead of 206) or the file changed, and checks the size against the
server's length and the one expected. No download hangs for ever: a stall
detector (no bytes for `stall_seconds`) and a deadline on the whole end it
with a typed, resumable error; so do a broken connection and a full disk,
which leave the `.part` for a resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import os
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx

from tui.download import files
from tui.download.failures import (
    ConnectionLost,
    DeadlinePassed,
    DiskFull,
    DownloadError,
    Partial,
    Refused,
    SizeMismatch,
    Stalled,
)
from tui.download.names import download_name

CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
UNSATISFIED_RANGE = re.compile(r"bytes \*/(\d+)")
T = TypeVar("T")
DEFAULT_STALL_SECONDS = 60.0
DEFAULT_DEADLINE_SECONDS = 24 * 3600.0


@dataclasses.dataclass(frozen=True)
class Progress:
    done: int
    total: int | None
    speed: float
    """Bytes per second since this attempt started."""


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    folder: Path,
    *,
    answer_filename: str | None = None,
    expected_size: int | None = None,
    resume: Partial | None = None,
    resume_allowed: bool = True,
    min_free_space: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
    on_part: Callable[[Partial], None] | None = None,
    stall_seconds: float = DEFAULT_STALL_SECONDS,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Path:
    """Download `url` into `folder`; the finished file's path. `resume` is
    the `partial` of an earlier attempt's error; without `resume_allowed`
    (the hoster's word) its `.part` is filled again from byte 0. `on_part`
    hears of the `.part` once it is open, before any byte: what a resume after
    a cancel or a crash needs, to keep (in the history database)."""
    attempt = _Attempt(client, url, folder, stall_seconds, clock, on_progress)
    try:
        async with asyncio.timeout(deadline_seconds):
            return await attempt.run(
                answer_filename, expected_size, resume, resume_allowed, min_free_space, on_part
            )
    except TimeoutError:
        raise attempt.resumable(DeadlinePassed(deadline_seconds)) from None
    except httpx.TimeoutException as error:  # a connect or a write that stalled
        raise attempt.resumable(Stalled(stall_seconds)) from error
    except httpx.TransportError as error:
        raise attempt.resumable(ConnectionLost(attempt.done)) from error
    except OSError as error:
        if error.errno == errno.ENOSPC and attempt.part is not None:
            raise attempt.resumable(DiskFull(attempt.part.path)) from error
        raise
    finally:
        attempt.close()


class _Attempt:
    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        folder: Path,
        stall_seconds: float,
        clock: Callable[[], float],
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.client, self.url, self.folder = client, url, folder
        self.stall_seconds, self.clock, self.on_progress = stall_seconds, clock, on_progress
        self.part: files.PartFile | None = None
        self.validator: str | None = None

    @property
    def done(self) -> int:
        return self.part.offset if self.part else 0

    def resumable(self, error: DownloadError) -> DownloadError:
        if self.part is None:
            return error
        return error.resumable(Partial(self.part.path, self.validator))

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

    async def run(
        self,
        answer_filename: str | None,
        expected_size: int | None,
        resume: Partial | None,
        resume_allowed: bool,
        min_free_space: int,
        on_part: Callable[[Partial], None] | None,
    ) -> Path:
        headers = {"Accept-Encoding": "identity"}
        if resume is not None:
            try:
                self.part = files.reopen_part(resume.part)
            except FileNotFoundError:
                resume = None  # the user deleted it: a fresh start under a fresh name
        if resume is not None and self.part is not None:
            self.validator = resume.validator
            if self.part.offset and resume_allowed and resume.validator:
                headers["Range"] = f"bytes={self.part.offset}-"
                headers["If-Range"] = resume.validator
            else:
                files.restart(self.part)
        async with contextlib.AsyncExitStack() as stack:
            request = self.client.stream(
                "GET",
                self.url,
                headers=headers,
                follow_redirects=True,
                # httpx's own timeouts (5 s by default) would end a slow read
                # before the stall detector, as a broken connection.
                timeout=httpx.Timeout(self.stall_seconds),
            )
            response = await self._in_time(stack.enter_async_context(request))
            total = self._total(response, ranged="Range" in headers)
            if total is not None and self.part is not None and self.done == total:
                return await self._finish(total, expected_size)
            if expected_size is not None and total is not None and total != expected_size:
                self.discard()
                raise SizeMismatch(total, expected_size)
            self.validator = _validator(response) or self.validator
            needed = total - self.done if total is not None else 0
            files.check_room(self.folder, needed, min_free_space)
            if self.part is None:
                name = download_name(
                    response.headers.get("content-disposition"),
                    answer_filename,
                    str(response.url),
                )
                self.part = files.open_part(self.folder, name)
            if on_part is not None:
                on_part(Partial(self.part.path, self.validator))
            await self._stream(response, total)
        return await self._finish(total, expected_size)

    def _total(self, response: httpx.Response, ranged: bool) -> int | None:
        """The file's whole size as the answer says it; restarts the `.part`
        when the server sends the whole file instead of the range asked."""
        status = response.status_code
        if status == 206 and ranged:
            match = CONTENT_RANGE.fullmatch(response.headers.get("content-range", ""))
            if match is None or int(match[1]) != self.done:
                raise self.resumable(Refused(status))
            return int(match[3])
        if status == 416 and ranged:
            match = UNSATISFIED_RANGE.fullmatch(response.headers.get("content-range", ""))
            if match is None or int(match[1]) != self.done:
                raise self.resumable(Refused(status))
            return self.done  # the `.part` was complete already
        if status != 200:
            # An expired link (403, 404, 410) keeps the `.part` for a new one.
            raise self.resumable(Refused(status))
        if self.part is not None and self.done:
            files.restart(self.part)
        length = response.headers.get("content-length", "")
        return int(length) if length.isdigit() else None

    async def _stream(self, response: httpx.Response, total: int | None) -> None:
        assert self.part is not None
        started, first = self.clock(), self.done
        chunks = response.aiter_raw()
        while True:
            chunk = await self._in_time(anext(chunks, None))
            if chunk is None:
                return
            files.write_all(self.part, chunk)
            if self.on_progress is not None:
                elapsed = self.clock() - started
                speed = (self.done - first) / elapsed if elapsed > 0 else 0.0
                self.on_progress(Progress(self.done, total, speed))

    async def _in_time(self, step: Awaitable[T]) -> T:
        """`step` (the headers, the next chunk), or Stalled after `stall_seconds`."""
        try:
            async with asyncio.timeout(self.stall_seconds):
                return await step
        except TimeoutError:
            raise self.resumable(Stalled(self.stall_seconds)) from None

    async def _finish(self, total: int | None, expected_size: int | None) -> Path:
        assert self.part is not None
        if total is not None and self.done < total:
            raise self.resumable(ConnectionLost(self.done))
        for size in (total, expected_size):
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


def _validator(response: httpx.Response) -> str | None:
    """What `If-Range` may carry: a strong ETag, else Last-Modified."""
    etag = response.headers.get("etag")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("last-modified")
