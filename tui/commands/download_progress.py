"""Downloads as the commands show them, and the rule that starts them.

Progress goes to stderr: on a terminal a bar per file (name, bar, %, size,
speed, ETA), redrawn in place at most four times a second; otherwise one line
per change of a file's state or note (a retry, an expired link unlocked
again). The result of each file goes to stdout once it has ended: a line, or a
JSON object with --json. Every name, link and message is the server's or the
history's: made plain before it is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tui.core import Session
from tui.core.download_queue import ELSEWHERE, DownloadAction
from tui.core.events import DownloadChanged, Event
from tui.download.job import ACTIVE, Download, DownloadState
from tui.formatting import countdown, size
from tui.unlock.items import Item, ItemState
from tui.untrusted import plain

REDRAW_SECONDS = 0.25
"""A terminal's bars are drawn again at most this often."""
NAME_CHARS = 40
NUMBERS_CHARS = 60
"""What a bar's line needs beside the name: bar, %, sizes, speed and ETA."""
SHOWN_FIRST = {
    DownloadState.DOWNLOADING: 0,
    DownloadState.VERIFYING: 0,
    DownloadState.QUEUED: 1,
    DownloadState.PAUSED: 2,
    DownloadState.FAILED: 3,
}
"""Which bars a terminal too small for all shows (the others by state after)."""
INTERRUPTED = "stopped (Ctrl-C)"
NOT_DOWNLOADED = "not downloaded"


def action_for(job: Download | None) -> DownloadAction | None:
    """What gets an item's file: a new download, the resume of a paused one,
    the retry of a failed or cancelled one; None when it goes on already or
    is done."""
    if job is None:
        return DownloadAction.DOWNLOAD
    if job.state is DownloadState.PAUSED:
        return DownloadAction.RESUME
    if job.state in (DownloadState.FAILED, DownloadState.CANCELLED):
        return DownloadAction.RETRY
    return None


def start_download(session: Session, item_id: int) -> str | None:
    """Get the file of item `item_id` (see `action_for`); why not, when it cannot."""
    assert session.downloads is not None
    if session.item(item_id) is None:
        return f"no item {item_id} in the history"
    if session.downloads.held_elsewhere(item_id):
        return ELSEWHERE
    action = action_for(session.downloads.get(item_id))
    if action is None:
        return None
    acted = session.act_on_downloads([item_id], action)
    return next(iter(acted.left), None)


def file_name(job: Download) -> str:
    """The file's name as far as it is known: the one on disk, the unlock
    answer's, else the link's last part."""
    if job.target:
        return Path(job.target).name.removesuffix(".part")
    if job.filename:
        return job.filename
    return job.url.rstrip("/").rsplit("/", 1)[-1]


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


class DownloadProgress:
    """Follows the downloads of the items it is told of (`follow`) and shows
    their progress on `err`; `run()` redraws a terminal's bars."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.terminal = err.isatty()
        self.links: dict[int, str] = {}
        self.latest: dict[int, Download] = {}
        self._told: dict[int, tuple[DownloadState, str]] = {}
        self._drawn_lines = 0
        self._dirty = False

    def follow(self, item_id: int, link: str, job: Download | None = None) -> None:
        """Show the download of `item_id` from now on (`job`: as it is now,
        which is drawn on a terminal but not told as a change)."""
        self.links.setdefault(item_id, link)
        if job is not None:
            self.latest[job.item_id] = job
            self._dirty = True

    def on_event(self, event: Event) -> None:
        if isinstance(event, DownloadChanged) and event.download.item_id in self.links:
            self.seen(event.download)

    def seen(self, job: Download) -> None:
        before = self.latest.get(job.item_id)
        self.latest[job.item_id] = job
        if self.terminal:
            self._dirty = True
        elif self._told.get(job.item_id) != (job.state, job.message):
            self._told[job.item_id] = (job.state, job.message)
            print(self.state_line(job, before), file=self.err, flush=True)

    @staticmethod
    def state_line(job: Download, before: Download | None) -> str:
        """`state  #id  name` and what is worth saying of that state."""
        line = f"{job.state:<11} #{job.item_id} {plain(file_name(job), NAME_CHARS)}"
        resumed = before is None or before.state is not DownloadState.DOWNLOADING
        if job.state is DownloadState.DOWNLOADING and resumed and job.done:
            line += f", resuming from {size(job.done)}"
        if job.state is DownloadState.DONE:
            line += f"  {size(job.done)}"
        if job.message:
            line += f": {plain(job.message, 200)}"
        return line

    async def run(self) -> None:
        """Redraw the bars while downloads go (terminals only)."""
        if not self.terminal:
            return
        while True:
            await asyncio.sleep(REDRAW_SECONDS)
            self.draw()

    def draw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        try:
            width, rows = os.get_terminal_size(self.err.fileno())
        except (OSError, ValueError):
            width, rows = 80, 24
        lines = self.lines(width - 1, rows - 1)
        up = f"\x1b[{self._drawn_lines}F" if self._drawn_lines else ""
        body = "".join(f"\x1b[K{line}\n" for line in lines)
        self.err.write(up + body)
        self.err.flush()
        self._drawn_lines = len(lines)

    def lines(self, width: int, room: int) -> list[str]:
        """A bar per file; when they are more than the `room` of the terminal
        (lines drawn above its top could not be drawn again), those that
        download first and a line that counts the others by state."""
        jobs = list(self.latest.values())
        if len(jobs) <= room:
            return [self.bar_line(job, width) for job in jobs]
        jobs.sort(key=lambda job: SHOWN_FIRST.get(job.state, len(SHOWN_FIRST)))
        shown, rest = jobs[: room - 1], jobs[room - 1 :]
        counts = Counter(job.state for job in rest)
        summary = ", ".join(f"{counts[state]} {state}" for state in DownloadState if counts[state])
        return [
            *(self.bar_line(job, width) for job in shown),
            shorten(f"… and {len(rest)} more: {summary}", width),
        ]

    def clear(self) -> None:
        """Take the bars away, so that a line printed now is not drawn over;
        they come back below it at the next redraw."""
        if self._drawn_lines:
            self.err.write(f"\x1b[{self._drawn_lines}F\x1b[J")
            self.err.flush()
            self._drawn_lines = 0
            self._dirty = True

    @staticmethod
    def bar_line(job: Download, width: int) -> str:
        """`name  ━━━━───  42%  8.4 MB/20.0 MB  2.0 MB/s  ETA 0:06`, within `width`
        (a long name is cut so that the numbers stay)."""
        name = plain(file_name(job), max(12, min(NAME_CHARS, width - NUMBERS_CHARS)))
        fraction = job.fraction
        percent = f"{fraction * 100:3.0f}%" if fraction is not None else "  ?%"
        amount = size(job.done) + (f"/{size(job.total)}" if job.total else "")
        if job.state in ACTIVE:
            eta = f"ETA {countdown(job.eta)}" if job.eta is not None else "ETA ?"
            tail = f"{size(int(job.speed))}/s  {eta}"
        else:
            tail = str(job.state)
            if job.message:
                tail += f": {plain(job.message, 200)}"
        if job.message and job.state in ACTIVE:
            tail += f"  {plain(job.message, 80)}"
        cells = max(10, min(30, width - len(name) - len(amount) - len(tail) - 14))
        filled = round(cells * (fraction or 0.0))
        bar = "━" * filled + "─" * (cells - filled)
        return shorten(f"{name}  {bar} {percent}  {amount}  {tail}", width)

    def finish(self) -> None:
        """The bars as they are at the end."""
        if self.terminal:
            self._dirty = True
            self.draw()


@dataclass(frozen=True)
class FileResult:
    """How the file of one item ended, for stdout."""

    item_id: int
    link: str
    job: Download | None
    reason: str | None = None
    """Why it was not downloaded (not unlocked, not in the history, stopped)."""

    @property
    def ok(self) -> bool:
        return self.reason is None and self.job is not None and self.job.state is DownloadState.DONE

    def error(self) -> str | None:
        if self.reason is not None:
            return self.reason
        if self.job is not None and self.job.state is not DownloadState.DONE:
            return self.job.message or str(self.job.state)
        return None

    def record(self) -> dict[str, object]:
        job = self.job
        seconds = None
        if job is not None and job.started is not None:
            seconds = round((job.finished or time.time()) - job.started, 3)
        return {
            "id": self.item_id,
            "link": plain(self.link),
            "state": str(job.state) if job is not None else NOT_DOWNLOADED,
            "path": plain(job.target) if job is not None and job.target else None,
            "bytes": job.done if job is not None else 0,
            "seconds": seconds,
            "error": plain(error) if (error := self.error()) is not None else None,
        }

    def line(self) -> str:
        """`done  #12  /path/file.zip`, or `failed  #12  link  why`."""
        if self.ok:
            assert self.job is not None and self.job.target is not None
            return f"done        #{self.item_id}  {plain(self.job.target)}"
        state = str(self.job.state) if self.job is not None else NOT_DOWNLOADED
        return f"{state:<11} #{self.item_id}  {plain(self.link, 300)}  {plain(self.error(), 300)}"


def results(
    session: Session, progress: DownloadProgress, refused: dict[int, str], *, interrupted: bool
) -> list[FileResult]:
    """What became of each followed item's file, in the order followed."""
    assert session.downloads is not None
    ended = []
    for item_id, link in progress.links.items():
        job = session.downloads.get(item_id)
        reason = refused.get(item_id)
        if reason is None and interrupted and (job is None or job.state is not DownloadState.DONE):
            reason = INTERRUPTED
        ended.append(FileResult(item_id, link, job, reason))
    return ended


def print_results(ended: Iterable[FileResult], out: TextIO, err: TextIO, *, as_json: bool) -> bool:
    """Each file's line (or JSON) on `out`, why each was not downloaded on
    `err`; True when every one is done."""
    all_done = True
    for result in ended:
        print(json.dumps(result.record()) if as_json else result.line(), file=out, flush=True)
        if result.reason is not None and result.reason != INTERRUPTED:
            print(
                f"linkdeck: #{result.item_id} not downloaded: {plain(result.reason, 300)}",
                file=err,
            )
        all_done = all_done and result.ok
    return all_done


async def until_done_or_interrupted(waiting: Awaitable[object]) -> bool:
    """Await `waiting` unless Ctrl-C (SIGINT) comes first; True when it did.
    Downloads stop where they are then, and go on at the next run."""
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    work = asyncio.ensure_future(waiting)
    stop = asyncio.ensure_future(interrupted.wait())
    try:
        await asyncio.wait((work, stop), return_when=asyncio.FIRST_COMPLETED)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        for task in (work, stop):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(work, stop, return_exceptions=True)
    if work.done() and not work.cancelled() and work.exception() is not None:
        raise work.exception()  # type: ignore[misc]
    return interrupted.is_set()


class DownloadAsUnlocked:
    """`unlock --download`: the file of each link this command follows,
    downloaded as soon as the link is unlocked (as `[download] auto` does)."""

    def __init__(self, session: Session, progress: DownloadProgress) -> None:
        self.session = session
        self.progress = progress
        self.refused: dict[int, str] = {}
        self._followed: set[int] | None = None

    def on_event(self, event: Event) -> None:
        if isinstance(event, Item) and self._followed is not None:
            self._seen(event)

    def follow(self, items: Iterable[Item]) -> None:
        """From now on, download these items' files as each is unlocked (those
        unlocked already at once)."""
        self._followed = set()
        for item in items:
            self._followed.add(item.id)
            self._seen(item)

    def _seen(self, item: Item) -> None:
        if item.id not in (self._followed or ()) or item.state is not ItemState.DONE:
            return
        if item.id in self.progress.links:
            return
        assert self.session.downloads is not None
        self.progress.follow(item.id, item.link, self.session.downloads.get(item.id))
        reason = start_download(self.session, item.id)
        if reason is not None:
            self.refused[item.id] = reason

    async def wait(self) -> None:
        """Until every file started has ended (or paused)."""
        assert self.session.downloads is not None
        started = [i for i in self.progress.links if i not in self.refused]
        await self.session.downloads.wait(started)
