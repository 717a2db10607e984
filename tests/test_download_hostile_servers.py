"""Download hosts that lie, each with one fault, against the download queue
and its built-in engine: a file that changes between segments, ranges
announced then ignored, a Retry-After no number, redirect loops and redirects
out of http(s), a compressed body, a FIFO where the `.part` was, a rate limit
lowered to nothing and raised again while files wait on it."""

from __future__ import annotations

import asyncio
import gzip
import os
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tui.api import ConnectionSettings
from tui.core.download_engines import BuiltinEngine
from tui.core.download_queue import DownloadAction, Downloads
from tui.download.job import Download, DownloadState
from tui.download.plan import Plan, Segment
from tui.settings import Settings
from tui.unlock.history import History
from tui.unlock.items import Item, ItemState

DATA = bytes(range(256)) * 65536  # 16 MiB: big enough to split over 4 connections


def head(status: int, headers: list[tuple[str, object]]) -> bytes:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return f"HTTP/1.1 {status} X\r\n{lines}\r\n".encode("latin-1")


class HostileHost:
    """A raw HTTP server: the fault is the path's first part."""

    def __init__(self) -> None:
        self.answers = 0
        self.refused = 0
        self.port = 0

    async def __aenter__(self) -> HostileHost:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    def url(self, fault: str) -> str:
        return f"http://127.0.0.1:{self.port}/{fault}/file.bin"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        lines = request.decode("latin-1").split("\r\n")
        fault = lines[0].split()[1].strip("/").split("/")[0]
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:])
        }
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", headers.get("range", ""))
        self.answers += 1
        writer.write(self.answer(fault, wanted))
        try:
            await writer.drain()
            writer.close()
        except ConnectionError:
            pass

    def answer(self, fault: str, wanted: re.Match[str] | None) -> bytes:
        def ranged(data: bytes, etag: str = '"v1"') -> bytes:
            if wanted is None:
                return (
                    head(
                        200,
                        [("Content-Length", len(data)), ("Accept-Ranges", "bytes"), ("ETag", etag)],
                    )
                    + data
                )
            first = int(wanted[1])
            last = int(wanted[2]) if wanted[2] else len(data) - 1
            body = data[first : last + 1]
            return (
                head(
                    206,
                    [
                        ("Content-Length", len(body)),
                        ("Content-Range", f"bytes {first}-{last}/{len(data)}"),
                        ("ETag", etag),
                    ],
                )
                + body
            )

        if fault == "changes":  # ignores If-Range: other bytes, another ETag
            return ranged(DATA if self.answers == 1 else bytes(len(DATA)), f'"v{self.answers}"')
        if fault == "ranges-then-whole":
            return head(200, [("Content-Length", len(DATA)), ("Accept-Ranges", "bytes")]) + DATA
        if fault == "odd-retry-after":  # the first two ranges asked are refused
            self.refused += wanted is not None and int(wanted[1]) > 0
            if wanted is not None and int(wanted[1]) > 0 and self.refused <= 2:
                return head(429, [("Retry-After", "\u00b2"), ("Content-Length", 0)])
            return ranged(DATA)
        if fault == "loop":
            return head(302, [("Location", "/loop/file.bin"), ("Content-Length", 0)])
        if fault == "to-file":
            return head(302, [("Location", "file:///etc/passwd"), ("Content-Length", 0)])
        if fault == "gzip":
            body = gzip.compress(DATA[:100_000])
            return head(200, [("Content-Length", len(body)), ("Content-Encoding", "gzip")]) + body
        return ranged(DATA)


class Queue:
    """A download queue with the built-in engine, as the session builds it."""

    def __init__(self, tmp: Path, **download: object) -> None:
        settings = Settings()
        self.settings = replace(
            settings, download=replace(settings.download, min_free_space=0, **download)
        )
        self.history = History(tmp / "history.sqlite3")
        self.http = httpx.AsyncClient()
        self.engine = BuiltinEngine(lambda: self.http, lambda: self.settings.download)
        self.folder = tmp / "files"
        self.downloads = Downloads(
            self.history,
            self.settings,
            {"builtin": self.engine},
            folder=self.folder,
            emit=lambda event: None,
            fresh_link=self.no_fresh_link,
            connection_settings=lambda hoster: ConnectionSettings(4, None, True),
        )

    @staticmethod
    async def no_fresh_link(item_id: int) -> object:
        raise LookupError("no service here")

    async def close(self) -> None:
        await self.downloads.close()
        await self.http.aclose()
        self.history.close()

    def item(self, url: str, item_id: int = 1) -> Item:
        return Item(
            id=item_id,
            link=f"https://hoster.example/{item_id}",
            hoster="hoster.example",
            state=ItemState.DONE,
            created=0.0,
            updated=0.0,
            location=url,
            filename="file.bin",
        )

    async def download(self, url: str) -> Download:
        item = self.item(url)
        assert self.downloads.act([item], DownloadAction.DOWNLOAD).acted == 1
        async with asyncio.timeout(60):
            (job,) = await self.downloads.wait([item.id])
        return job


@pytest.fixture
async def host() -> AsyncIterator[HostileHost]:
    async with HostileHost() as server:
        yield server


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[Queue]:
    made = Queue(tmp_path)
    yield made
    await made.close()


async def test_a_file_that_changes_between_segments_is_never_stitched(
    host: HostileHost, queue: Queue
) -> None:
    job = await queue.download(host.url("changes"))
    if job.state is DownloadState.DONE:
        assert Path(job.target or "").read_bytes() in (DATA, bytes(len(DATA)))
    else:
        assert job.state is DownloadState.FAILED
        assert "changed" in job.message
        assert not list(queue.folder.glob("*.bin"))


async def test_ranges_announced_then_ignored_fall_back_to_one_connection(
    host: HostileHost, queue: Queue
) -> None:
    job = await queue.download(host.url("ranges-then-whole"))
    assert job.state is DownloadState.DONE, job.message
    assert Path(job.target or "").read_bytes() == DATA


async def test_a_retry_after_that_is_no_number_is_waited_as_a_few_seconds(
    host: HostileHost, queue: Queue
) -> None:
    job = await queue.download(host.url("odd-retry-after"))
    assert job.state is DownloadState.DONE, job.message
    assert Path(job.target or "").read_bytes() == DATA


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("loop", "redirected too many times"),
        ("to-file", "not http(s)"),
        ("gzip", "encoded (gzip)"),
    ],
)
async def test_what_cannot_be_a_file_fails_at_once_saying_why(
    host: HostileHost, queue: Queue, fault: str, words: str
) -> None:
    job = await queue.download(host.url(fault))
    assert job.state is DownloadState.FAILED
    assert words in job.message, job.message
    assert not list(queue.folder.glob("file*.bin"))


async def test_a_fifo_where_the_part_was_is_refused_not_waited_on(
    host: HostileHost, queue: Queue
) -> None:
    queue.folder.mkdir()
    fifo = queue.folder / "file.bin.part"
    os.mkfifo(fifo)
    plan = Plan(fifo, '"v1"', len(DATA), (Segment(0, len(DATA), 1000),))
    record = Download(
        item_id=1,
        state=DownloadState.FAILED,
        url=host.url("plain"),
        folder=str(queue.folder),
        resume=plan.to_json(),
        target=str(fifo),
        total=len(DATA),
    )
    queue.history.claim_download(1, record.to_json())
    queue.downloads.restore()
    assert queue.downloads.act([1], DownloadAction.RETRY).acted == 1
    async with asyncio.timeout(20):
        (job,) = await queue.downloads.wait([1])
    # The FIFO is left alone; the file starts afresh under a free name.
    assert job.state is DownloadState.DONE, job.message
    assert Path(job.target or "").read_bytes() == DATA
    assert fifo.exists()


async def test_a_rate_limit_raised_applies_to_the_files_waiting_on_it(
    host: HostileHost, tmp_path: Path
) -> None:
    slow = Queue(tmp_path, rate_limit=1000)
    try:
        item = slow.item(host.url("plain"))
        slow.downloads.act([item], DownloadAction.DOWNLOAD)
        await asyncio.sleep(0.5)
        faster = replace(slow.settings, download=replace(slow.settings.download, rate_limit=0))
        slow.settings = faster
        slow.downloads.use_settings(faster, slow.folder)
        async with asyncio.timeout(10):  # at 1,000 B/s it would take four hours
            (job,) = await slow.downloads.wait([item.id])
        assert job.state is DownloadState.DONE, job.message
    finally:
        await slow.close()


async def test_a_public_host_redirecting_to_this_machine_is_not_followed(
    host: HostileHost, tmp_path: Path
) -> None:
    from tui.download.failures import BadRedirect
    from tui.download.fetch import fetch

    def public_host(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": host.url("plain")})

    mounts = {"http://download.example": httpx.MockTransport(public_host)}
    async with httpx.AsyncClient(mounts=mounts) as client:
        with pytest.raises(BadRedirect, match="this machine or its local network"):
            await fetch(client, "http://download.example/file.bin", tmp_path)
    assert host.answers == 1  # asked, as a redirect is followed; nothing of it kept
    assert list(tmp_path.iterdir()) == []
