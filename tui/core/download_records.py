"""The download records written to the history off the event loop.

A download's record is written several times a second while files download
(what a resume needs); a write that waits on the disk (a WAL checkpoint's
fsync) must not hold up the dashboard's keys. So records are written by a
thread, the newest of each item only. A claim is written at once (its answer
decides whether this process may download the item), after the writes under
way, and supersedes what was waiting for its item. The leases of the
downloads are renewed by that thread too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.unlock.history import History

log = logging.getLogger("tui.core.downloads")


class RecordWriter:
    def __init__(self, history: History) -> None:
        self.history = history
        self._waiting: dict[int, tuple[str, bool]] = {}
        self._waiting_lock = threading.Lock()
        """Held only to swap or change `_waiting`: never while writing."""
        self._writing = threading.Lock()
        """Held while a batch is written: a claim waits for it."""
        self._task: asyncio.Task[None] | None = None
        self._renew_due = False

    def save(self, item_id: int, record: str, *, hold: bool) -> None:
        """Write `record` soon (see `History.save_download`)."""
        with self._waiting_lock:
            self._waiting[item_id] = (record, hold)
        self._write_soon()

    def renew(self) -> None:
        """Extend the leases of this process's downloads soon
        (see `History.renew_downloads`)."""
        self._renew_due = True
        self._write_soon()

    def _write_soon(self) -> asyncio.Task[None]:
        """The writes under way, or started now."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._write_all())
        return self._task

    def claim(self, item_id: int, record: str) -> str | None:
        """`History.claim_download`, at once, over what waited for the item."""
        with self._writing:
            with self._waiting_lock:
                self._waiting.pop(item_id, None)
            return self.history.claim_download(item_id, record)

    async def flush(self) -> None:
        """Until every record saved so far is written."""
        while self._due() or (self._task is not None and not self._task.done()):
            await asyncio.shield(self._write_soon())

    def _due(self) -> bool:
        return bool(self._waiting) or self._renew_due

    async def _write_all(self) -> None:
        while self._due():
            await asyncio.to_thread(self._write_batch)

    def _write_batch(self) -> None:
        from tui.unlock.history import HistoryWriteError

        with self._writing:
            with self._waiting_lock:
                batch, self._waiting = self._waiting, {}
            if self._renew_due:
                self._renew_due = False
                try:
                    self.history.renew_downloads()
                except HistoryWriteError as error:
                    log.warning("download leases not renewed: %s", error)
            for item_id, (record, hold) in batch.items():
                try:
                    self.history.save_download(item_id, record, hold=hold)
                except HistoryWriteError as error:
                    # Downloaded all the same: only a resume after a crash is lost.
                    log.warning("download of item %s not written: %s", item_id, error)
