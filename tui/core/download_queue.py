"""The session's downloads: from an item's direct link to the file on disk.

A download per item, queued, then run by an engine (linkdeck's own, or an
aria2 daemon) at most `concurrent_files` at a time, within the service's
connection settings of its hoster (connections per file, per hoster across
files, whether resume works). What a resume needs is written to the history
database as the download goes, so a process killed mid-file goes on from what
is on disk at its next start; another process's downloads are left to it.

A download fails only after what can be retried was: a broken or stalled
connection is resumed a few times, an expired direct link (403, 404, 410) is
unlocked again once (free on the service within 30 minutes). No Textual here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tui.core.acted import ActedOn
from tui.core.download_records import RecordWriter
from tui.core.events import DownloadChanged, DownloadTotals
from tui.download.failures import (
    ConnectionLost,
    DownloadError,
    FileChanged,
    RangeIgnored,
    Refused,
    Stalled,
    UnsafePart,
)
from tui.download.job import ACTIVE, ENDED, Download, DownloadState
from tui.unlock.items import Item, ItemState

if TYPE_CHECKING:
    from tui.api import ConnectionSettings, DirectLink
    from tui.settings import DownloadSettings, Settings
    from tui.unlock.history import History

log = logging.getLogger("tui.core.download_queue")

PROGRESS_SECONDS = 0.5
"""How often a download in progress is told (and the totals)."""
SAVE_SECONDS = 2.0
"""How often its bytes so far are written, beside what the engine saves to resume."""
RETRY_DELAYS = (2.0, 5.0, 15.0, 30.0, 60.0)
"""Waits before each resume of a download whose connection broke or stalled."""
FOLLOW_SECONDS = 1.0
"""How often the downloads other processes hold are read again (their progress, their end)."""
RENEW_SECONDS = 30.0
"""How often the claims of queued files are renewed (a lease lasts 120 s)."""
EXPIRED = frozenset({403, 404, 410})
"""What a download host answers for a direct link that is no longer valid."""
BUSY = frozenset({429, 503})
"""What a download host answers when its connections are all taken for now."""
NOT_UNLOCKED = "not unlocked yet"
ELSEWHERE = "downloaded by another linkdeck process"


class DownloadAction(StrEnum):
    DOWNLOAD = "download"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    RETRY = "retry"


PAST_TENSE = {
    DownloadAction.DOWNLOAD: "Downloading",
    DownloadAction.PAUSE: "Paused",
    DownloadAction.RESUME: "Resumed",
    DownloadAction.CANCEL: "Cancelled",
    DownloadAction.RETRY: "Retrying",
}


@dataclass(frozen=True)
class Fetching:
    """What an engine is given to download one file by."""

    limits: Limits
    slot: asyncio.Semaphore | None
    """Held by each connection while it is open: the hoster's limit across files."""
    progress: Progress
    resumable: Resumable


class Engine(Protocol):
    """What downloads one file: `run` until it is on disk (its path), telling
    `fetching.progress` how far it got and `fetching.resumable` what a resume needs."""

    async def run(self, job: Download, fetching: Fetching) -> Path: ...

    def use_settings(self, settings: DownloadSettings) -> None:
        """Saved settings, for the files downloading too."""

    async def stop(self, job: Download, *, discard: bool) -> None:
        """The download was paused or cancelled (its task is cancelled
        already): tell an outside engine, and with `discard` delete what it wrote."""


Progress = Callable[[int, int | None, float, int], None]
"""(bytes done, total, bytes per second, connections open)."""


class Resumable(Protocol):
    def __call__(self, resume: str, target: str, *, gid: str | None = None) -> None:
        """What a resume needs (the engine's JSON), the path being written and,
        with aria2, its id of the download."""


@dataclass(frozen=True)
class Limits:
    """How one file may be fetched: from the service's settings of its hoster,
    under the user's cap."""

    connections: int
    per_hoster: int | None
    resume: bool


def limits(service: ConnectionSettings | None, cap: int) -> Limits:
    """The service's word (none: one connection, no hoster limit, resume
    tried) under the user's `cap` of connections per file."""
    per_file = service.max_connections_per_file if service else None
    per_hoster = service.max_connections_per_hoster if service else None
    resume = service.resume if service else None
    connections = max(1, min(cap, per_file or 1))
    if per_hoster:
        connections = min(connections, per_hoster)
    return Limits(connections, per_hoster or None, resume is not False)


def why_not(job: Download | None, action: DownloadAction) -> str | None:
    """Why `action` does not apply to a download in its state; None when it does."""
    state = job.state if job else None
    if action is DownloadAction.DOWNLOAD:
        if state in (DownloadState.QUEUED, *ACTIVE):
            return f"{state} already"
        if state is DownloadState.PAUSED:
            return "paused (resume it)"
        if state is DownloadState.DONE:
            return "downloaded already"
        return None
    if job is None:
        return "not downloading"
    if action is DownloadAction.PAUSE and state not in (DownloadState.QUEUED, *ACTIVE):
        return f"{state}, not downloading"
    if action is DownloadAction.RESUME and state is not DownloadState.PAUSED:
        return f"{state}, not paused"
    if action is DownloadAction.CANCEL and state in ENDED:
        return f"{state} already"
    if action is DownloadAction.RETRY and state not in (
        DownloadState.FAILED,
        DownloadState.CANCELLED,
    ):
        return f"{state}, not failed"
    return None


def why_not_to_download(item: Item, job: Download | None) -> str | None:
    """Why the item's file is not to be downloaded now: its download's state,
    or the item not unlocked; None when it is."""
    refusal = why_not(job, DownloadAction.DOWNLOAD)
    if refusal is None and (item.state is not ItemState.DONE or not item.location):
        return NOT_UNLOCKED
    return refusal


def action_to_get(job: Download | None) -> DownloadAction:
    """What gets an item's file, by the state of its download: the resume of a
    paused one, the retry of a failed or cancelled one, else a download (which
    says why not when it is under way or done)."""
    state = job.state if job else None
    if state is DownloadState.PAUSED:
        return DownloadAction.RESUME
    if state in (DownloadState.FAILED, DownloadState.CANCELLED):
        return DownloadAction.RETRY
    return DownloadAction.DOWNLOAD


class EnginesOnFirstUse(Mapping[str, Engine]):
    """The engines, built when a download first needs one: their modules
    (httpx, a tenth of a second to import) are not loaded at start-up."""

    def __init__(self, build: Callable[[], Mapping[str, Engine]]) -> None:
        self._build = build
        self._built: Mapping[str, Engine] | None = None

    def _engines(self) -> Mapping[str, Engine]:
        if self._built is None:
            self._built = self._build()
        return self._built

    def __getitem__(self, name: str) -> Engine:
        return self._engines()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._engines())

    def __len__(self) -> int:
        return len(self._engines())


class Downloads:
    """This process's downloads. `restore()` takes back those an earlier run
    left (the dashboard), `act` starts, pauses, resumes, cancels or retries
    them; every change is told to `emit`. Use from one event loop."""

    def __init__(
        self,
        history: History,
        settings: Settings,
        engines: Mapping[str, Engine],
        *,
        folder: Path,
        emit: Callable[[object], None],
        fresh_link: Callable[[int], Awaitable[DirectLink]],
        connection_settings: Callable[[str | None], ConnectionSettings | None],
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.history = history
        self.settings = settings
        self.engines = engines
        self.folder = folder
        self._emit = emit
        self._fresh_link = fresh_link
        self._connection_settings = connection_settings
        self._sleep = sleep
        self._clock = clock
        self.records = RecordWriter(history)
        self._jobs: dict[int, Download] = {}
        self._elsewhere: set[int] = set()
        self._queue: list[int] = []
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._hoster_slots: dict[str, asyncio.Semaphore] = {}
        self._live: dict[int, tuple[int, int | None, float, int]] = {}
        self._saved_at: dict[int, float] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._following: asyncio.Task[None] | None = None
        self._stopping: dict[int, asyncio.Future[None]] = {}
        """A stop under way by item: a restart of that item waits for it."""
        self._changed = asyncio.Event()
        self._renewed_at = 0.0
        self._closed = False

    def use_settings(self, settings: Settings, folder: Path) -> None:
        """Saved settings: for the downloads started from now on (the number
        of files at once too)."""
        self.settings, self.folder = settings, folder
        for engine in self.engines.values():
            engine.use_settings(settings.download)
        self._pump()

    # --- what there is ------------------------------------------------------

    def get(self, item_id: int) -> Download | None:
        return self._jobs.get(item_id)

    def all(self) -> list[Download]:
        return list(self._jobs.values())

    def held_elsewhere(self, item_id: int) -> bool:
        return item_id in self._elsewhere

    def totals(self) -> DownloadTotals:
        speed, remaining, active, queued = 0.0, 0, 0, 0
        for job in self._jobs.values():
            if job.item_id in self._elsewhere:
                continue
            if job.state in ACTIVE:
                active += 1
                speed += job.speed
            elif job.state is DownloadState.QUEUED:
                queued += 1
            else:
                continue
            remaining += job.remaining or 0
        return DownloadTotals(speed, remaining, active, queued)

    def restore(self, only: Collection[int] | None = None) -> None:
        """Read the downloads of the history (of the items `only` names, if
        given: a command's): go on with those an earlier run left unfinished
        (queued, downloading), show the others as they are."""
        for item_id, record, elsewhere in self.history.downloads():
            if only is not None and item_id not in only:
                continue
            try:
                job = Download.from_json(record)
            except ValueError as error:
                log.warning("download record of item %s skipped: %s", item_id, error)
                continue
            if job.item_id != item_id:
                continue
            if elsewhere:
                self._elsewhere.add(item_id)
                self._follow_elsewhere()
                job = job.moved(elsewhere=True)
            elif job.state in (DownloadState.QUEUED, *ACTIVE):
                job = job.moved(state=DownloadState.QUEUED)
                if self._claim(job):
                    self._queue.append(item_id)
            self._jobs[item_id] = job
            self._emit(DownloadChanged(job))
        self._pump()

    # --- operations ---------------------------------------------------------

    def act(self, items: Iterable[Item | int], action: DownloadAction) -> ActedOn:
        """`action` on each item (an Item for DOWNLOAD, which needs its direct
        link: the caller counts those gone from the history; an id will do for
        the others); those it does not apply to are counted with the reason."""
        acted = ActedOn(PAST_TENSE[action])
        entries = list(items)
        self.look_again_elsewhere(
            entry if isinstance(entry, int) else entry.id for entry in entries
        )
        for entry in entries:
            reason = self._act(entry, action)
            if reason is None:
                acted.acted += 1
            else:
                acted.left[reason] += 1
        self._pump()
        self._emit(self.totals())
        return acted

    def look_again_elsewhere(self, item_ids: Iterable[int]) -> None:
        """When some of `item_ids` were another process's downloads, those
        downloads as the history has them now: one they let go of (ended, or
        their process did) is this process's to act on again, an unfinished
        one as paused where it got to."""
        if self._elsewhere.isdisjoint(item_ids):
            return
        held = {
            item_id: (record, elsewhere) for item_id, record, elsewhere in self.history.downloads()
        }
        for item_id in list(self._elsewhere):
            record, elsewhere = held.get(item_id, (None, False))
            try:
                job = None if record is None else Download.from_json(record)
            except ValueError:
                job = None
            if not elsewhere:
                self._elsewhere.discard(item_id)
            if job is None or job.item_id != item_id:
                if not elsewhere:
                    self._jobs.pop(item_id, None)
                continue
            if elsewhere:
                job = job.moved(elsewhere=True)
            elif job.state in (DownloadState.QUEUED, *ACTIVE):
                job = job.moved(state=DownloadState.PAUSED, message="")
            if job != self._jobs.get(item_id):
                self._show(job)

    def _follow_elsewhere(self) -> None:
        if not self._closed and (self._following is None or self._following.done()):
            self._following = asyncio.create_task(self._follow(), name="downloads elsewhere")

    async def _follow(self) -> None:
        """Show the downloads other processes hold as they go, until none is."""
        while self._elsewhere and not self._closed:
            await self._sleep(FOLLOW_SECONDS)
            try:
                self.look_again_elsewhere(list(self._elsewhere))
            except Exception:  # locked or failing for a moment: the next look tries again
                log.warning("could not read the downloads of other processes", exc_info=True)

    def _act(self, entry: Item | int, action: DownloadAction) -> str | None:
        item_id = entry if isinstance(entry, int) else entry.id
        if item_id in self._elsewhere:
            return ELSEWHERE
        job = self._jobs.get(item_id)
        if action is DownloadAction.DOWNLOAD:
            assert isinstance(entry, Item), "a download needs the item's direct link"
            return why_not_to_download(entry, job) or self._start(entry, job)
        refusal = why_not(job, action)
        if refusal is not None:
            return refusal
        assert job is not None
        if action is DownloadAction.PAUSE:
            self._stop(job, DownloadState.PAUSED, discard=False)
        elif action is DownloadAction.CANCEL:
            self._stop(job, DownloadState.CANCELLED, discard=True)
        else:  # resume, retry
            fresh = job.moved(state=DownloadState.QUEUED, message="", finished=None)
            moved = job.folder != str(self.folder)
            if action is DownloadAction.RETRY and (job.state is DownloadState.CANCELLED or moved):
                # A retry goes to the download folder of now: what an earlier
                # attempt left elsewhere stays there.
                fresh = fresh.moved(
                    done=0, resume=None, target=None, gid=None, folder=str(self.folder)
                )
            if not self._claim(fresh):
                return ELSEWHERE
            self._queue.append(item_id)
        return None

    def _start(self, item: Item, job: Download | None) -> str | None:
        assert item.location is not None  # unlocked (why_not_to_download)
        if job is not None and job.state is not DownloadState.CANCELLED:
            fresh = job.moved(state=DownloadState.QUEUED, message="", finished=None)
        else:
            fresh = Download(
                item_id=item.id,
                state=DownloadState.QUEUED,
                url=item.location,
                folder=str(self.folder),
                engine=self.settings.download.engine,
                filename=item.filename,
                expected_size=item.filesize,
                hoster=item.hoster,
                total=item.filesize,
            )
        if not self._claim(fresh):
            return ELSEWHERE
        self._queue.append(item.id)
        return None

    def _claim(self, job: Download) -> bool:
        """Hold `job` in the history for this process; False (and the other
        process's record shown) when another live process holds it."""
        from tui.unlock.history import HistoryWriteError

        try:
            theirs = self.records.claim(job.item_id, job.to_json())
        except HistoryWriteError as error:
            # Downloaded all the same: only a resume after a crash is lost.
            log.warning("download of item %s not written: %s", job.item_id, error)
            theirs = None
        if theirs is not None:
            self._elsewhere.add(job.item_id)
            self._follow_elsewhere()
            with contextlib.suppress(ValueError):
                self._show(Download.from_json(theirs).moved(elsewhere=True))
            return False
        self._show(job)
        return True

    def _stop(self, job: Download, state: DownloadState, *, discard: bool) -> None:
        if job.item_id in self._queue:
            self._queue.remove(job.item_id)
        task = self._tasks.pop(job.item_id, None)
        if task is not None:
            task.cancel()
        message = "deleted what was downloaded" if discard else ""
        stopped = self._jobs[job.item_id].moved(
            state=state, speed=0.0, connections=0, message=message
        )
        self._live.pop(job.item_id, None)
        self._save(stopped, hold=False)
        self._show(stopped)
        self._stop_in_engine(stopped, task, discard=discard)

    def _stop_in_engine(
        self, job: Download, task: asyncio.Task[None] | None, *, discard: bool
    ) -> None:
        engine = self.engines.get(job.engine)
        if engine is not None:
            stopping = asyncio.ensure_future(self._stopped(engine, job, task, discard))
            self._stopping[job.item_id] = stopping
            stopping.add_done_callback(lambda done: self._stop_ended(job.item_id, done))

    def _stop_ended(self, item_id: int, stop: asyncio.Future[None]) -> None:
        if self._stopping.get(item_id) is stop:
            del self._stopping[item_id]

    async def _stopped(
        self, engine: Engine, job: Download, task: asyncio.Task[None] | None, discard: bool
    ) -> None:
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        try:
            await engine.stop(job, discard=discard)
        except Exception as error:  # said, never raised: the download stopped here
            log.warning("stopping download of item %s: %s", job.item_id, error)
        if discard:
            # The engine forgot what it wrote: a retry starts from the beginning.
            current = self._jobs.get(job.item_id)
            if current is not None and current.state is DownloadState.CANCELLED:
                cleared = current.moved(resume=None, gid=None, done=0, target=None)
                self._save(cleared, hold=False)
                self._show(cleared)

    # --- running ------------------------------------------------------------

    def _pump(self) -> None:
        if self._closed:
            return
        limit = self.settings.download.concurrent_files
        while self._queue and len(self._tasks) < limit:
            item_id = self._queue.pop(0)
            task = asyncio.create_task(self._run(item_id), name=f"download {item_id}")
            self._tasks[item_id] = task
            task.add_done_callback(lambda _task, item_id=item_id: self._ended(item_id, _task))
        if self._tasks and (self._ticker is None or self._ticker.done()):
            self._ticker = asyncio.create_task(self._tick(), name="download progress")

    def _ended(self, item_id: int, task: asyncio.Task[None]) -> None:
        if self._tasks.get(item_id) is task:
            del self._tasks[item_id]
        self._changed.set()
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.error("download of item %s failed unexpectedly", item_id, exc_info=error)
            job = self._jobs.get(item_id)
            if job is not None and job.state not in ENDED:
                self._finish(job.moved(state=DownloadState.FAILED, message=f"unexpected: {error}"))
        self._pump()

    async def _tick(self) -> None:
        """Tell the progress of what downloads, and the totals, a few times a second."""
        while self._tasks and not self._closed:
            await self._sleep(PROGRESS_SECONDS)
            now = self._clock()
            for item_id, (done, total, speed, connections) in list(self._live.items()):
                job = self._jobs.get(item_id)
                if job is None or job.state not in ACTIVE:
                    continue
                state = job.state
                if total is not None and done >= total:
                    state = DownloadState.VERIFYING
                moved = job.moved(
                    done=done, total=total, speed=speed, connections=connections, state=state
                )
                if moved != job:
                    self._show(moved)
                if now - self._saved_at.get(item_id, 0.0) >= SAVE_SECONDS:
                    self._save(moved, hold=True)
            if now - self._renewed_at >= RENEW_SECONDS:
                self._renew(now)
            self._emit(self.totals())
        self._emit(self.totals())

    def _renew(self, now: float) -> None:
        """Keep the claims of the files queued here (those downloading are saved
        often), written off the event loop."""
        self._renewed_at = now
        self.records.renew()

    async def _run(self, item_id: int) -> None:
        job = self._jobs[item_id]
        engine = self.engines.get(job.engine)
        if engine is None:
            self._finish(job.moved(state=DownloadState.FAILED, message=f"no {job.engine} engine"))
            return
        stopping = self._stopping.get(item_id)
        if stopping is not None:
            # Paused or cancelled a moment ago: its engine lets go of the file first.
            await asyncio.gather(stopping, return_exceptions=True)
        tries = 0
        unlocked_again = started_afresh = one_connection = False
        while True:
            job = self._jobs[item_id].moved(
                state=DownloadState.DOWNLOADING,
                started=self._jobs[item_id].started or self._clock(),
                message="",
            )
            self._show(job)
            try:
                path = await engine.run(job, self._fetching(job, one_connection=one_connection))
            except DownloadError as error:
                job = self._jobs[item_id]
                if isinstance(error, RangeIgnored) and not one_connection:
                    # The host announced ranges and sends the whole file: one
                    # connection, from the first byte.
                    one_connection = True
                    continue
                if isinstance(error, FileChanged | UnsafePart) and not started_afresh:
                    # Its bytes so far are another file's (or the `.part` is not
                    # ours any more, left alone): a fresh file, once.
                    started_afresh = True
                    if isinstance(error, FileChanged):
                        await engine.stop(job, discard=True)
                    self._show(job.moved(resume=None, target=None, done=0, gid=None))
                    continue
                status = error.status if isinstance(error, Refused) else None
                if status in EXPIRED and not unlocked_again:
                    unlocked_again = True
                    if await self._unlock_again(job):
                        continue
                    return
                transient = isinstance(error, ConnectionLost | Stalled) or status in BUSY
                if transient and tries < len(RETRY_DELAYS):
                    delay = RETRY_DELAYS[tries]
                    tries += 1
                    self._show(job.moved(message=f"{error} Again in {delay:g} s.", speed=0.0))
                    await self._sleep(delay)
                    continue
                self._finish(job.moved(state=DownloadState.FAILED, message=str(error)))
                return
            except OSError as error:
                reason = error.strerror or str(error)
                message = f"{reason}: {error.filename}" if error.filename else reason
                self._finish(self._jobs[item_id].moved(state=DownloadState.FAILED, message=message))
                return
            done = path.stat().st_size
            self._finish(
                self._jobs[item_id].moved(
                    state=DownloadState.DONE,
                    target=str(path),
                    done=done,
                    total=done,
                    resume=None,
                    message="",
                    finished=self._clock(),
                )
            )
            return

    async def _unlock_again(self, job: Download) -> bool:
        """The direct link expired: a new one for the same item; False (and the
        download failed) when none comes."""
        from tui.api import ApiError

        self._show(job.moved(message="The direct link expired: unlocking it again.", speed=0.0))
        try:
            fresh = await self._fresh_link(job.item_id)
        except (ApiError, LookupError) as error:
            self._finish(
                job.moved(
                    state=DownloadState.FAILED,
                    message=f"The direct link expired, and unlocking it again failed: {error}",
                )
            )
            return False
        moved = job.moved(url=fresh.location)
        self._save(moved, hold=True)
        self._show(moved)
        return True

    def _resumable(self, item_id: int, resume: str, target: str, gid: str | None) -> None:
        job = self._jobs.get(item_id)
        if job is None or job.state not in ACTIVE:
            return
        live = self._live.get(item_id)
        moved = job.moved(
            resume=resume, target=target, done=live[0] if live else job.done, gid=gid or job.gid
        )
        self._jobs[item_id] = moved
        self._save(moved, hold=True)

    def _finish(self, job: Download) -> None:
        self._live.pop(job.item_id, None)
        ended = job.moved(speed=0.0, connections=0)
        self._save(ended, hold=False)
        self._show(ended)
        self._emit(self.totals())

    def _show(self, job: Download) -> None:
        self._jobs[job.item_id] = job
        self._changed.set()
        self._emit(DownloadChanged(job))

    def _save(self, job: Download, *, hold: bool) -> None:
        self._saved_at[job.item_id] = self._clock()
        self.records.save(job.item_id, job.to_json(), hold=hold)

    def _fetching(self, job: Download, *, one_connection: bool = False) -> Fetching:
        item_id = job.item_id
        cap = self.settings.download.max_connections_per_file
        job_limits = limits(self._connection_settings(job.hoster), cap)
        if one_connection:
            job_limits = replace(job_limits, connections=1, resume=False)
        slot = None
        if job.hoster is not None and job_limits.per_hoster is not None:
            slot = self._hoster_slots.get(job.hoster)
            if slot is None:
                slot = self._hoster_slots[job.hoster] = asyncio.Semaphore(job_limits.per_hoster)

        def progress(done: int, total: int | None, speed: float, connections: int) -> None:
            self._live[item_id] = (done, total, speed, connections)

        def resumable(resume: str, target: str, *, gid: str | None = None) -> None:
            self._resumable(item_id, resume, target, gid)

        return Fetching(job_limits, slot, progress, resumable)

    def busy(self, item_id: int) -> bool:
        """Whether the item's file is queued or downloading here."""
        job = self._jobs.get(item_id)
        return job is not None and job.state in (DownloadState.QUEUED, *ACTIVE)

    def forget(self, item_id: int) -> None:
        """The item left the log (its record went with it). What an unfinished
        download of it wrote is deleted, as a cancel does: no key reaches it now."""
        if self.busy(item_id):
            return
        job = self._jobs.pop(item_id, None)
        theirs = item_id in self._elsewhere
        self._elsewhere.discard(item_id)
        self._saved_at.pop(item_id, None)
        if job is not None and not theirs and job.state is not DownloadState.DONE:
            self._stop_in_engine(job, None, discard=True)

    async def close(self) -> None:
        """Stop every download where it is: an unfinished one goes on at the next start."""
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for helper in (self._ticker, self._following):
            if helper is not None:
                helper.cancel()
                tasks.append(helper)
        await asyncio.gather(*tasks, *self._stopping.values(), return_exceptions=True)
        for item_id, (done, *_rest) in list(self._live.items()):
            job = self._jobs.get(item_id)
            if job is not None and job.state in ACTIVE:
                self._save(job.moved(done=done), hold=True)
        await self.records.flush()

    async def wait(self, item_ids: Iterable[int]) -> list[Download]:
        """Wait until each of `item_ids` has ended or paused; their downloads."""
        wanted = list(item_ids)
        while any(i in self._tasks or i in self._queue for i in wanted):
            self._changed.clear()
            await self._changed.wait()
        return [self._jobs[i] for i in wanted if i in self._jobs]
