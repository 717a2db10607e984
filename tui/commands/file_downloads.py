"""What the commands do with downloads: start each item's the way its state
asks, follow the links `unlock --download` unlocks, wait unless Ctrl-C comes,
and say how each file ended (a line, or JSON with --json, on stdout; why one
was not downloaded on stderr)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import TextIO

from tui.commands.common import ExitCode
from tui.commands.download_progress import DownloadProgress
from tui.core import Session
from tui.core.download_queue import ELSEWHERE, DownloadAction, action_to_get
from tui.core.events import Event
from tui.download.job import Download, DownloadState
from tui.unlock.items import Item, ItemState
from tui.untrusted import plain

STOPPED_BY = {
    signal.SIGINT: ("stopped (Ctrl-C)", ExitCode.INTERRUPTED),
    signal.SIGTERM: ("stopped (SIGTERM)", ExitCode.TERMINATED),
}
"""The signals that stop the downloads where they are: what each file's line
says then, and the command's exit code."""
NOT_DOWNLOADED = "not downloaded"


def action_for(job: Download | None) -> DownloadAction | None:
    """What gets an item's file (`action_to_get`); None when its download goes
    on already or is done (a download again is all it would get)."""
    action = action_to_get(job)
    if job is not None and action is DownloadAction.DOWNLOAD:
        return None
    return action


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
    session: Session,
    progress: DownloadProgress,
    refused: dict[int, str],
    *,
    interrupted: signal.Signals | None,
) -> list[FileResult]:
    """What became of each followed item's file, in the order followed."""
    assert session.downloads is not None
    ended = []
    for item_id, link in progress.links.items():
        job = session.downloads.get(item_id)
        reason = refused.get(item_id)
        if reason is None and interrupted and (job is None or job.state is not DownloadState.DONE):
            reason = STOPPED_BY[interrupted][0]
        ended.append(FileResult(item_id, link, job, reason))
    return ended


def print_results(ended: Iterable[FileResult], out: TextIO, err: TextIO, *, as_json: bool) -> bool:
    """Each file's line (or JSON) on `out`, why each was not downloaded on
    `err`; True when every one is done."""
    all_done = True
    for result in ended:
        print(json.dumps(result.record()) if as_json else result.line(), file=out, flush=True)
        stopped = any(result.reason == reason for reason, _ in STOPPED_BY.values())
        if result.reason is not None and not stopped:
            print(
                f"linkdeck: #{result.item_id} not downloaded: {plain(result.reason, 300)}",
                file=err,
            )
        all_done = all_done and result.ok
    return all_done


async def until_done_or_interrupted(waiting: Awaitable[object]) -> signal.Signals | None:
    """Await `waiting` unless Ctrl-C (SIGINT) or SIGTERM comes first; the
    signal when one did. Downloads stop where they are then (their records
    saved), and go on at the next run."""
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    came: list[signal.Signals] = []

    def on_signal(signum: signal.Signals) -> None:
        came.append(signum)
        interrupted.set()

    for signum in STOPPED_BY:
        loop.add_signal_handler(signum, on_signal, signum)
    work = asyncio.ensure_future(waiting)
    stop = asyncio.ensure_future(interrupted.wait())
    try:
        await asyncio.wait((work, stop), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for signum in STOPPED_BY:
            loop.remove_signal_handler(signum)
        for task in (work, stop):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(work, stop, return_exceptions=True)
    if work.done() and not work.cancelled() and work.exception() is not None:
        raise work.exception()  # type: ignore[misc]
    return came[0] if came else None


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
