"""Downloads as a command shows them on stderr while they go: on a terminal
a bar per file (name, bar, %, size, speed, ETA), redrawn in place at most four
times a second; otherwise one line per change of a file's state or note (a
retry, an expired link unlocked again). Every name and message is the
server's or the history's: made plain before it is printed.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path
from typing import TextIO

from tui.core.events import DownloadChanged, Event
from tui.download.job import ACTIVE, Download, DownloadState
from tui.download.names import download_name
from tui.formatting import countdown, size, speed
from tui.untrusted import plain

UNKNOWN_SIZE = (80, 24)
"""Columns and lines of a terminal that does not say its size."""
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


def file_name(job: Download) -> str:
    """The file's name as far as it is known: the one on disk, else the one it
    is to get (the unlock answer's, else the link's last part)."""
    if job.target:
        return Path(job.target).name.removesuffix(".part")
    return download_name(None, job.filename, job.url)


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
            width, rows = UNKNOWN_SIZE
        if width <= 0 or rows <= 0:  # a terminal nobody sized says 0x0
            width, rows = UNKNOWN_SIZE
        # At least a line: with none, the slices of `lines` would count from the end.
        lines = self.lines(max(1, width - 1), max(1, rows - 1))
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
            plain(f"… and {len(rest)} more: {summary}", width),
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
            tail = f"{speed(job.speed)}  {eta}"
        else:
            tail = str(job.state)
            if job.message:
                tail += f": {plain(job.message, 200)}"
        if job.message and job.state in ACTIVE:
            tail += f"  {plain(job.message, 80)}"
        cells = max(10, min(30, width - len(name) - len(amount) - len(tail) - 14))
        filled = round(cells * (fraction or 0.0))
        bar = "━" * filled + "─" * (cells - filled)
        return plain(f"{name}  {bar} {percent}  {amount}  {tail}", width)

    def finish(self) -> None:
        """The bars as they are at the end."""
        if self.terminal:
            self._dirty = True
            self.draw()
