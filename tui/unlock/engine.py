"""The unlock queue: bounded concurrency, the retry policy, holds, pauses and events.

One scheduler task starts an unlock whenever a slot is free and an item is
ready, and otherwise sleeps on the clock until the next retry or hold end, or
until something changes (an item added, an unlock ended, a resume). Every state
change is written to the history and emitted as an event.

Other processes may share the history. The engine sends only items it holds
the claim of (see `History`); those another process holds are followed as that
process changes them (a watcher looks at the history's `data_version` once a
second, and reads just the rows that changed) and never sent here, until their
owner ends or lets its lease run out: then they are taken back. The watcher
also renews this engine's leases.

Events (through `subscribe` or `events`): the full `Item` after each change,
`ItemRemoved` when an item leaves the log, `QueueState` when a pause or hold
begins or ends.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from itertools import islice
from types import MappingProxyType
from typing import TYPE_CHECKING

from tui.api import Credentials, HosterMatcher, LinkdeckError
from tui.api.errors import ApiError
from tui.unlock.clock import Clock, SystemClock
from tui.unlock.extract import extract_links, links_in
from tui.unlock.history import LEASE_SECONDS, Changes, History, HistoryWriteError, StaleItem
from tui.unlock.items import (
    UNFINISHED,
    Attempt,
    Event,
    Item,
    ItemRemoved,
    ItemState,
    QueueState,
)
from tui.unlock.owner import owner_gone
from tui.unlock.policy import FIXED_BY_SETTINGS, HoldScope, holds_account, rule_for

if TYPE_CHECKING:
    from tui.api.client import ApiClient
    from tui.settings import UnlockSettings

log = logging.getLogger("tui.unlock")

CLOCK_STEP_TOLERANCE = 600.0
"""How far ahead of the boot clock the wall clock may go between two starts (an NTP
correction) before it is taken for a clock set ahead."""
QUEUE_STEP = 100
"""Words of text `queue` reads per step: about 10 ms of the event loop."""

PAUSED_BY_USER = "paused"
AWAITING_HOSTERS = "waiting for the hoster list"
NO_HOSTER = "no hoster serves this link"


@dataclass
class Queued:
    """What `UnlockEngine.queue` did: the new items, and the links a failed write
    left out."""

    links: int = 0
    added: list[Item] = field(default_factory=list)
    rest: list[str] = field(default_factory=list)
    error: HistoryWriteError | None = None


_READY = (ItemState.PENDING, ItemState.HELD)
RETRYABLE = (ItemState.FAILED, ItemState.CANCELLED, ItemState.WAITING)
"""The states `retry` sends again, `cancel` cancels: others are left as they are."""
CANCELLABLE = (ItemState.PENDING, ItemState.WAITING, ItemState.HELD, ItemState.UNLOCKING)
WATCH_SECONDS = 1.0
"""How often the history is checked for the changes of other processes."""
HEARTBEAT_SECONDS = LEASE_SECONDS / 4
WRITE_RETRY_SECONDS = 5.0
"""How soon a history write that failed is tried again."""


class HeldElsewhere(Exception):
    """The item is in the queue of another linkdeck process: only that one changes it."""

    def __init__(self, item_id: int) -> None:
        super().__init__(f"item {item_id} is in the queue of another linkdeck process")
        self.item_id = item_id


class UnlockEngine:
    """Turns links into direct links. Use from one event loop.

    Commands taking an item id raise KeyError for an id not in the history, and
    HeldElsewhere for an item another live process holds.

    With `retry_temporary=False` a temporary failure ends its item as failed
    at once instead of waiting for a retry (`linkdeck unlock --no-retry`).
    """

    def __init__(
        self,
        client: ApiClient,
        history: History,
        settings: UnlockSettings,
        *,
        matcher: HosterMatcher | None = None,
        clock: Clock | None = None,
        retry_temporary: bool = True,
    ) -> None:
        self.client = client
        self.history = history
        self.settings = settings
        self._matcher = matcher
        self._clock = clock or SystemClock()
        self._retry_temporary = retry_temporary
        self._items: dict[int, Item] = {}
        self._counts: Counter[ItemState] = Counter()
        # The links of unfinished items: one is never queued twice.
        self._unfinished_links: dict[str, None] = {}
        # Ids of this engine's pending and held items, in queue order.
        self._ready: dict[int, None] = {}
        # Ids of unfinished items another process holds, and the queues of others paused.
        self._elsewhere: set[int] = set()
        self._paused_elsewhere: dict[str, str] = {}
        # Deadlines are on the clock's monotonic time (see `_due`): (when, id, the
        # item's wall retry time) of waiting items; entries whose item moved on are
        # skipped. Holds and the write retry likewise.
        self._timers: list[tuple[float, int, float]] = []
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._hoster_holds: dict[str, float] = {}
        self._global_hold: float | None = None
        self._pause_reason: str | None = None
        self._subscribers: list[Callable[[Event], None]] = []
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._scheduler: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._follow_all = False
        self._data_version: int | None = None
        self._cursor = 0
        self._last_heartbeat = 0.0
        # A write that failed: what is kept in memory only, why, and when to write again.
        self._unsaved: dict[int, None] = {}
        self._write_error: str | None = None
        self._write_retry_at: float | None = None
        self._restore_pending = False

    # State seen from outside

    @property
    def items(self) -> Mapping[int, Item]:
        """Every item of this session by id, in the order they were added."""
        return MappingProxyType(self._items)

    def held_elsewhere(self, item: Item) -> bool:
        """Whether another process holds `item` (it is unfinished in that one's queue)."""
        return item.held_elsewhere(self.history.owner)

    def paused_elsewhere(self, item: Item) -> str | None:
        """Why the queue of the other process holding `item` is paused, if it is."""
        return self._paused_elsewhere.get(item.owner or "") if self.held_elsewhere(item) else None

    def _mine(self, item: Item) -> bool:
        return item.owner == self.history.owner

    @property
    def paused(self) -> bool:
        return self._pause_reason is not None

    @property
    def pause_reason(self) -> str | None:
        return self._pause_reason

    @property
    def queue_state(self) -> QueueState:
        now = self._clock.monotonic()
        return QueueState(
            paused=self.paused,
            pause_reason=self._pause_reason,
            hoster_holds=MappingProxyType(
                {
                    hoster: self._wall(until)
                    for hoster, until in self._hoster_holds.items()
                    if until > now
                }
            ),
            global_hold_until=self._wall(self._global_hold)
            if self._global_hold and self._global_hold > now
            else None,
            not_saved=self._write_error,
            unsaved=len(self._unsaved),
        )

    @property
    def write_error(self) -> str | None:
        """Why the history cannot be written now, or None."""
        return self._write_error

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call `callback` with every event; returns the function that unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    async def events(self) -> AsyncIterator[Event]:
        """Every event from the first iteration on, until the iterator is closed."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        unsubscribe = self.subscribe(queue.put_nowait)
        try:
            while True:
                yield await queue.get()
        finally:
            unsubscribe()

    # Life cycle

    async def start(self, *, restore: bool = True, since: int | None = None) -> None:
        """Prune the history by age, restore the hoster holds and, with `restore`, take
        back the unfinished items of the history no live process holds, then start
        unlocking.

        With `restore` the engine follows the whole history: what other processes
        add, change and remove is emitted from `since` on (a `change_cursor()` of
        the history, read before the caller read the history; now by default),
        and items their owners leave are taken back. Without it, only the items
        this engine added, or found queued elsewhere for its links, are followed."""
        self._follow_all = restore
        self._data_version = None  # the first look reads from `since` whatever it says
        self._cursor = self.history.change_cursor() if since is None else since
        self._last_heartbeat = time.monotonic()
        now = self._clock.now()
        if self.settings.history_days > 0:
            cutoff = self._elapsed_wall_time(now) - self.settings.history_days * 86400
            with suppress(HistoryWriteError):  # old rows stay one more session
                self.history.prune(older_than=cutoff)
        for hoster, outcome in self.history.hoster_outcomes().items():
            if outcome.unavailable_until and outcome.unavailable_until > now:
                self._hoster_holds[hoster] = self._due(outcome.unavailable_until)
        self._restore_pending = restore
        if restore:
            with suppress(HistoryWriteError):  # taken back once the history can be written
                self._take_back_unfinished()
        self._scheduler = asyncio.create_task(self._run(), name="unlock-scheduler")
        self._watcher = asyncio.create_task(self._watch(), name="unlock-history-watcher")

    async def stop(self) -> None:
        """Stop unlocking; links in flight go back to pending, and this engine's
        claims are released for the next process to take back at once."""
        tasks = [task for task in (self._scheduler, self._watcher, *self._tasks.values()) if task]
        self._scheduler = self._watcher = None  # and so nothing new is launched
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._unsaved:
            self._retry_writes()  # a last try: the disk may have room again
        try:
            self.history.release()
        except (sqlite3.Error, HistoryWriteError) as error:
            # Not fatal: the claims end with this process or their lease.
            log.info("could not release the claims in the history: %s", error)

    async def wait_idle(self, *, include_waiting: bool = False) -> None:
        """Return once nothing is unlocking and nothing is ready to go (or the queue
        is paused); with `include_waiting`, also once no retry or hold is due."""
        while not self._idle(include_waiting):
            await self._changed.wait()

    def _idle(self, include_waiting: bool) -> bool:
        if self._counts[ItemState.UNLOCKING]:
            return False
        if self.paused or self._write_error is not None:
            return True  # a queue that cannot write sends nothing until it can
        # Items in another process's paused queue will not end soon: not waited for.
        stalled = Counter(
            self._items[item_id].state
            for item_id in self._elsewhere
            if self._items[item_id].owner in self._paused_elsewhere
        )
        if self._counts[ItemState.PENDING] > stalled[ItemState.PENDING]:
            return False
        # A retry or hold end that is due but not handled yet is work about to start.
        wake_at = self._next_wake()
        if wake_at is not None and wake_at <= self._clock.monotonic():
            return False
        later = sum(self._counts[s] - stalled[s] for s in (ItemState.WAITING, ItemState.HELD))
        return not (include_waiting and later)

    # Commands

    async def queue(self, text: str, *, force: bool = False) -> Queued:
        """Queue the links found in `text` as `add` does, QUEUE_STEP words at a time,
        letting the event loop run between steps: 10,000 links added at once held
        a dashboard for a second, and a command reading 100,000 from stdin sent
        none until all were stored. A write that fails ends the queuing;
        `Queued.rest` holds the links not queued.
        """
        words, seen = text.split(), set[str]()
        queued = Queued()
        for start in range(0, len(words), QUEUE_STEP):
            began = time.perf_counter()
            links = links_in(words[start : start + QUEUE_STEP], seen)
            queued.links += len(links)
            try:
                queued.added += self.add_links(links, force=force)
            except HistoryWriteError as error:
                later = links_in(words[start + QUEUE_STEP :], seen)
                queued.error, queued.rest = error, links + later
                queued.links += len(later)
                break
            # As long again for everything else: a dashboard draws each step's rows,
            # and a key press crosses its widgets one turn of the loop per widget.
            await asyncio.sleep(time.perf_counter() - began)
        return queued

    def add(self, text: str, *, force: bool = False) -> list[Item]:
        """Queue the links found in `text` at once; see `add_links`."""
        return self.add_links(extract_links(text), force=force)

    def add_links(self, links: Iterable[str], *, force: bool = False) -> list[Item]:
        """Queue `links` (as `extract_links` gives them); returns the new items.

        A link already unfinished in the queue, or in the history (queued by another
        process: then followed in `items`, not sent), is skipped. A link no hoster serves
        is `unsupported` unless `force`. A link done within the reuse window is
        answered from the history at once (`reused`), without calling the API.
        Before a hoster list is known (`set_matcher`), links are held.

        Raises HistoryWriteError, with nothing queued, when the history cannot be
        written: a link is sent only once it is stored.
        """
        now = self._clock.now()
        new = [
            self._new_item(link, now, force) for link in links if link not in self._unfinished_links
        ]
        added = self.history.add(new)  # HistoryWriteError: nothing was queued
        for item in added.new:
            self._store(item)
        if added.queued:
            # Queued by another process: followed here until they end, and sent
            # only if their owner has ended (then they are taken back now).
            self._adopt(added.queued)
            try:
                self._adopt(self.history.take_back(item.id for item in added.queued))
            except HistoryWriteError as error:
                self._write_failed(error)  # followed as they are; taken back later
            self._refresh_paused()
        self._wake.set()
        return added.new

    def _new_item(self, link: str, now: float, force: bool) -> Item:
        item = Item(id=0, link=link, hoster=None, state=ItemState.PENDING, created=now, updated=now)
        window = self.settings.reuse_window
        previous = self.history.reusable(link, now - window) if window > 0 else None
        if previous is not None:
            return replace(
                item,
                state=ItemState.DONE,
                hoster=previous.hoster,
                status=200,
                message="OK (reused from the last minutes, no fair use spent)",
                location=previous.location,
                filename=previous.filename,
                filesize=previous.filesize,
                reused=True,
            )
        if self._matcher is not None:
            hoster = self._matcher.match(link)
            if hoster is None and not force:
                return replace(item, state=ItemState.UNSUPPORTED, message=NO_HOSTER)
            item = replace(item, hoster=hoster.name if hoster else None, forced=hoster is None)
        return self._placed(item, now)

    def _placed(self, item: Item, now: float) -> Item:
        """An unfinished item with its hoster matched and its state in the queue."""
        if _awaits_hosters(item):
            if self._matcher is None:
                return replace(item, state=ItemState.HELD, message=AWAITING_HOSTERS)
            hoster = self._matcher.match(item.link)
            if hoster is None:
                return replace(item, state=ItemState.UNSUPPORTED, message=NO_HOSTER)
            item = replace(item, hoster=hoster.name, message="")
        if item.state == ItemState.WAITING and item.next_attempt_at:
            return item
        return replace(item, state=self._ready_state(item.hoster, now))

    def retry(self, item_id: int) -> Item:
        """Send a failed, cancelled or waiting item now. A temporary failure after the
        attempt limit was reached ends it again at once."""
        item = self._known(item_id)
        if item.state in RETRYABLE:
            self._requeue(replace(item, next_attempt_at=None, updated=self._clock.now()))
        return self._items[item_id]

    def force(self, item_id: int) -> Item:
        """Send an unsupported item anyway."""
        item = self._known(item_id)
        if item.state == ItemState.UNSUPPORTED:
            self._requeue(replace(item, forced=True, updated=self._clock.now()))
        return self._items[item_id]

    def cancel(self, item_id: int) -> Item:
        item = self._known(item_id)
        if item.state in CANCELLABLE:
            self._set(replace(item, state=ItemState.CANCELLED, updated=self._clock.now()))
            task = self._tasks.get(item_id)
            if task:
                task.cancel()
        return self._items[item_id]

    def remove(self, item_id: int) -> None:
        """Forget an item, in memory and in the history."""
        self._known(item_id)
        if not self.history.delete(item_id):
            raise HeldElsewhere(item_id)  # claimed by another process just now
        self._forget(item_id)

    def pause(self, reason: str = PAUSED_BY_USER) -> None:
        self._pause_reason = reason
        self._publish_pause()
        self._emit(self.queue_state)

    def resume(self) -> None:
        self._pause_reason = None
        self._publish_pause()
        self._wake.set()
        self._emit(self.queue_state)

    def _publish_pause(self) -> None:
        try:
            self.history.set_paused(self._pause_reason)
        except HistoryWriteError as error:
            # Only another process waiting for these items would miss it.
            log.warning("could not record the pause in the history: %s", error)

    def set_credentials(self, credentials: Credentials) -> None:
        """Use new credentials (and settings); a pause that asked for them ends."""
        self.client.credentials = credentials
        if self._pause_reason in FIXED_BY_SETTINGS:
            self.resume()

    def end_account_hold(self) -> None:
        """Another account is in use: the hold its predecessor's answers brought
        (fair use used up) is not this one's. Held links go now, and those that
        met that answer are sent again at once rather than at their retry time."""
        self._global_hold = None
        now = self._clock.now()
        for item in list(self._items.values()):
            if item.state == ItemState.WAITING and holds_account(item.status) and self._mine(item):
                self._requeue(replace(item, next_attempt_at=None, updated=now))
        self._apply_holds(now)
        self._wake.set()

    def set_matcher(self, matcher: HosterMatcher) -> None:
        """Use a new hoster list for the links added from now on, and for those held
        because no list was known when they were added."""
        self._matcher = matcher
        now = self._clock.now()
        for item in list(self._items.values()):
            if item.state == ItemState.HELD and _awaits_hosters(item) and self._mine(item):
                self._set(self._placed(item, now))
        self._wake.set()

    # Bookkeeping

    def _known(self, item_id: int) -> Item:
        """The item as the history has it now (taken back if nobody else holds it),
        for a command on it: this engine's own unfinished items as it knows them."""
        item = self._items.get(item_id)
        if item is None or not self._mine(item):
            rows = self.history.take_back([item_id])
            if not rows:
                if item is not None:
                    self._forget(item_id)
                raise KeyError(item_id)
            self._adopt(rows)
            item = self._items[item_id]
        if self.held_elsewhere(item):
            raise HeldElsewhere(item_id)
        return item

    def _set(self, item: Item, *, persist: bool = True) -> bool:
        """Write `item` to the history and keep it; False when the history's row
        changed meanwhile (another process took it back or removed it): the row
        is kept as it is then."""
        if persist:
            try:
                item = self.history.update(replace(item, not_saved=None))
            except StaleItem as stale:
                self._unsaved.pop(item.id, None)
                if stale.current is None:
                    self._forget(item.id)
                else:
                    self._store(stale.current)
                return False
            except HistoryWriteError as error:
                self._write_failed(error)
                if item.state == ItemState.UNLOCKING:
                    return False  # a claim that is not on disk is none: not sent
                # The answer is kept, shown as not saved, and written again later.
                self._unsaved[item.id] = None
                item = replace(item, not_saved=error.reason)
                self._emit(self.queue_state)  # the count kept in memory
            else:
                self._unsaved.pop(item.id, None)
        self._store(item)
        return True

    def _write_failed(self, error: HistoryWriteError) -> None:
        """The history could not be written: no new claim until it can, and what is
        kept in memory is written again in a few seconds."""
        first = self._write_error is None
        self._write_error = error.reason
        self._write_retry_at = self._clock.monotonic() + WRITE_RETRY_SECONDS
        self._wake.set()
        if first:
            log.info("the history cannot be written: %s", error)
            self._emit(self.queue_state)

    def _retry_writes(self) -> None:
        """Write what is kept in memory only; once everything is written, new
        claims (and so unlocks) go on, and items left unfinished are taken back."""
        self._write_retry_at = None
        for item_id in list(self._unsaved):
            item = self._items.get(item_id)
            if item is None:
                self._unsaved.pop(item_id)
            elif self._set(item) and item_id in self._unsaved:
                return  # failed again: the next try is set
        try:
            if self._restore_pending:
                self._take_back_unfinished()
        except HistoryWriteError:
            return
        self._write_error = None
        self._emit(self.queue_state)
        self._wake.set()

    def _take_back_unfinished(self) -> None:
        try:
            self._adopt(self.history.take_back())
        except HistoryWriteError as error:
            self._write_failed(error)
            raise
        self._restore_pending = False

    def _store(self, item: Item) -> None:
        """Keep `item` as the engine knows it, and emit it."""
        old = self._items.get(item.id)
        if old is not None:
            self._counts[old.state] -= 1
            self._unfinished_links.pop(old.link, None)
        self._items[item.id] = item
        self._counts[item.state] += 1
        if item.state in UNFINISHED:
            self._unfinished_links[item.link] = None
        mine = self._mine(item)
        if mine and item.state in _READY and not _awaits_hosters(item):
            self._ready[item.id] = None
        else:
            self._ready.pop(item.id, None)
        if self.held_elsewhere(item):
            self._elsewhere.add(item.id)
        else:
            self._elsewhere.discard(item.id)
        if mine and item.state == ItemState.WAITING and item.next_attempt_at is not None:
            due = self._due(item.next_attempt_at)
            heapq.heappush(self._timers, (due, item.id, item.next_attempt_at))
        self._emit(item)

    def _forget(self, item_id: int) -> None:
        """The item left the history: drop it, and stop its unlock if one runs."""
        item = self._items.pop(item_id, None)
        if item is None and not self._follow_all:
            return
        if item is not None:
            self._counts[item.state] -= 1
            self._unfinished_links.pop(item.link, None)
        self._ready.pop(item_id, None)
        self._elsewhere.discard(item_id)
        task = self._tasks.get(item_id)
        if task:
            task.cancel()
        self._emit(ItemRemoved(item_id))

    def _adopt(self, rows: Iterable[Item]) -> None:
        """Items as the history has them now: this engine's are queued, the others
        are kept as they are."""
        now = self._clock.now()
        for row in rows:
            known = self._items.get(row.id)
            if known is not None and known.version == row.version:
                continue
            if self._mine(row) and row.state in UNFINISHED:
                placed = self._placed(row, now)
                self._set(placed, persist=placed != row)
                self._wake.set()
            else:
                self._store(row)

    def _emit(self, event: Event) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                # A broken subscriber must not stop the queue.
                log.exception("unlock event subscriber failed")
        self._changed_now()

    def _changed_now(self) -> None:
        """Wake `wait_idle` to look again."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _requeue(self, item: Item) -> None:
        """Put an item back in the queue: pending, held, or waiting until its time."""
        self._set(self._placed(item, self._clock.now()))
        self._wake.set()

    def _ready_state(self, hoster: str | None, now: float) -> ItemState:
        return ItemState.HELD if self._blocked(hoster, now) else ItemState.PENDING

    def _blocked(self, hoster: str | None, now: float) -> bool:
        moment = self._clock.monotonic()
        if self._global_hold is not None and self._global_hold > moment:
            return True
        return hoster is not None and self._hoster_holds.get(hoster, 0.0) > moment

    def _hold(self, hoster: str | None, until: float) -> None:
        """Hold the links of `hoster`, or every link when None, until `until` (wall time)."""
        until = self._due(until)
        if hoster is None:
            self._global_hold = max(self._global_hold or 0.0, until)
        else:
            self._hoster_holds[hoster] = max(self._hoster_holds.get(hoster, 0.0), until)
        self._apply_holds(self._clock.now())

    def _apply_holds(self, now: float) -> None:
        for item_id in list(self._ready):
            item = self._items[item_id]
            state = self._ready_state(item.hoster, now)
            if state != item.state:
                self._set(replace(item, state=state, updated=now))
        self._emit(self.queue_state)

    def _expire_holds(self, now: float) -> None:
        moment = self._clock.monotonic()
        expired = [hoster for hoster, until in self._hoster_holds.items() if until <= moment]
        for hoster in expired:
            del self._hoster_holds[hoster]
        if self._global_hold is not None and self._global_hold <= moment:
            self._global_hold = None
            expired.append("")
        if expired:
            self._apply_holds(now)

    def _release_hoster(self, hoster: str, now: float) -> None:
        """A success shows the hoster is back: its held links need not wait any longer."""
        if self._hoster_holds.pop(hoster, None) is not None:
            self._apply_holds(now)

    def _release_due(self, now: float) -> None:
        """Waiting items whose retry time has come go back to the queue."""
        moment = self._clock.monotonic()
        while self._timers and self._timers[0][0] <= moment:
            _, item_id, at = heapq.heappop(self._timers)
            if self._timer_current(item_id, at):
                item = self._items[item_id]
                self._requeue(replace(item, next_attempt_at=None, updated=now))

    def _next_wake(self) -> float | None:
        while self._timers and not self._timer_current(*self._timers[0][1:]):
            heapq.heappop(self._timers)
        times = [*self._hoster_holds.values()]
        if self._global_hold is not None:
            times.append(self._global_hold)
        if self._timers:
            times.append(self._timers[0][0])
        if self._write_retry_at is not None:
            times.append(self._write_retry_at)
        return min(times, default=None)

    def _elapsed_wall_time(self, now: float) -> float:
        """`now`, or less when the wall clock went further ahead since the last start
        on this boot than the boot clock did: a clock set a year ahead must not make
        the whole log a year old. The time so trusted is the next start's reference."""
        current = self._clock.boot_time()
        if current is None:
            return now
        last = self.history.clocks()
        if last is not None and last.boot == current.boot:
            passed = current.since_boot - last.since_boot
            now = min(now, last.wall + passed + CLOCK_STEP_TOLERANCE)
        with suppress(HistoryWriteError):
            self.history.set_clocks(current._replace(wall=now))
        return now

    def _due(self, at: float) -> float:
        """The monotonic time of the wall time `at`, as the clocks stand now."""
        return self._clock.monotonic() + (at - self._clock.now())

    def _wall(self, due: float) -> float:
        """The wall time of the monotonic time `due`, as the clocks stand now."""
        return self._clock.now() + (due - self._clock.monotonic())

    def _timer_current(self, item_id: int, at: float) -> bool:
        item = self._items.get(item_id)
        return (
            item is not None
            and item.state == ItemState.WAITING
            and item.next_attempt_at == at
            and self._mine(item)
        )

    # Scheduling

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            now = self._clock.now()
            self._expire_holds(now)
            self._release_due(now)
            retry_at = self._write_retry_at
            if retry_at is not None and retry_at <= self._clock.monotonic():
                self._retry_writes()
            self._dispatch(now)
            await self._sleep_until(self._next_wake())

    def _dispatch(self, now: float) -> None:
        if self.paused or self._scheduler is None or self._write_error is not None:
            return
        free = self.settings.concurrency - len(self._tasks)
        if free <= 0:
            return
        # Held items are skipped; the first `free` pending ones go, in queue order.
        queued = map(self._items.__getitem__, self._ready)
        for item in list(islice((i for i in queued if i.state == ItemState.PENDING), free)):
            self._launch(item, now)
            if self._write_error is not None:
                return  # its claim could not be written: neither can the next ones

    def _launch(self, item: Item, now: float) -> None:
        # Written before the call: a crash now leaves it 'unlocking', retried on restart.
        # The write holds the claim: it fails if another process took the item meanwhile.
        if self._set(replace(item, state=ItemState.UNLOCKING, updated=now)):
            self._tasks[item.id] = asyncio.create_task(self._unlock(item.id, item.link))

    async def _sleep_until(self, wake_at: float | None) -> None:
        if wake_at is None:
            await self._wake.wait()
            return
        delay = wake_at - self._clock.monotonic()
        if delay <= 0:
            return
        sleeper = asyncio.ensure_future(self._clock.sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    # Other processes

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            # Each step on its own: a failing look must not let the leases lapse.
            for step in (self._heartbeat_when_due, self._follow_history):
                try:
                    step()
                except (sqlite3.Error, HistoryWriteError) as error:
                    # Locked or failing for a moment: the next look tries again.
                    log.info("could not follow the history: %s", error)
                except Exception:
                    # A bug must not end the following of other processes for good.
                    log.exception("following the history failed")

    def _follow_history(self) -> None:
        """Apply what other processes changed since the last look, and take back what
        owners that ended left. What fails is read again at the next look."""
        version = self.history.data_version()
        if version != self._data_version:
            changes = self.history.changes_since(self._cursor)
            self._apply(changes)
            self._cursor, self._data_version = changes.cursor, version
            self._refresh_paused()
        if self._elsewhere:
            owners = {self._items[item_id].owner for item_id in self._elsewhere}
            gone = {owner for owner in owners if owner and owner_gone(owner)}
            if gone:
                left = [i for i in self._elsewhere if self._items[i].owner in gone]
                self._adopt(self.history.take_back(left))

    def _apply(self, changes: Changes) -> None:
        left: list[int] = []
        for row in changes.items:
            released = row.state in UNFINISHED and row.owner is None  # by a clean stop
            known = self._items.get(row.id)
            if known is not None and known.version >= row.version:
                if released:
                    left.append(row.id)  # seen in a look whose taking back failed
                continue  # this engine's own write, or seen already
            if known is None and not self._follow_all:
                continue
            task = self._tasks.get(row.id)
            if task is not None and not self._mine(row):
                # Taken back by another process after this one's lease ran out
                # (it was stopped or starved): that one sends it now.
                task.cancel()
            self._store(row)
            if released:
                left.append(row.id)
        for item_id in changes.removed:
            self._forget(item_id)
        if left:
            self._adopt(self.history.take_back(left))

    def _refresh_paused(self) -> None:
        paused = self.history.paused_queues() if self._elsewhere else {}
        if paused != self._paused_elsewhere:
            self._paused_elsewhere = paused
            self._changed_now()

    def _heartbeat_when_due(self) -> None:
        if time.monotonic() - self._last_heartbeat < HEARTBEAT_SECONDS:
            return
        unfinished = sum(self._counts[state] for state in UNFINISHED)
        if unfinished > len(self._elsewhere):
            self.history.renew()  # the leases of this engine's items
        if self._elsewhere:
            self._adopt(self.history.take_back(self._elsewhere))  # leases that ran out
        self._last_heartbeat = time.monotonic()  # after it worked: a failure tries again soon

    async def _unlock(self, item_id: int, link: str) -> None:
        try:
            result = await self.client.direct_download_link(link)
        except asyncio.CancelledError:
            self._stopped(item_id)
            raise
        except LinkdeckError as error:
            self._failed(item_id, error)
        except Exception as exc:
            # A bug must not leave the item 'unlocking' for ever; its text may hold the URL.
            log.exception("unlock crashed")
            self._finish(item_id, ItemState.FAILED, None, f"internal error: {type(exc).__name__}")
        else:
            now = self._clock.now()
            item = self._current(item_id)
            if item is not None:
                self._set(
                    replace(
                        item,
                        state=ItemState.DONE,
                        updated=now,
                        next_attempt_at=None,
                        attempts=(*item.attempts, Attempt(now, 200, "OK")),
                        status=200,
                        message="OK",
                        location=result.location,
                        filename=result.filename,
                        filesize=result.filesize,
                    )
                )
                if item.hoster:
                    self._record(self.history.record_hoster_ok, item.hoster, now)
                    self._release_hoster(item.hoster, now)
        finally:
            self._tasks.pop(item_id, None)
            # Fill the freed slot at once rather than one scheduler round trip later.
            self._dispatch(self._clock.now())
            self._wake.set()

    def _record(self, write: Callable[..., None], *args: object) -> None:
        """A hoster's outcome, for its status column: on a failed write, the hold
        it brings still holds in memory."""
        try:
            write(*args)
        except HistoryWriteError as error:
            self._write_failed(error)

    def _current(self, item_id: int) -> Item | None:
        """The item if it is still unlocking here (not cancelled, removed or taken
        back by another process meanwhile)."""
        item = self._items.get(item_id)
        if item is None or item.state != ItemState.UNLOCKING or not self._mine(item):
            return None
        return item

    def _stopped(self, item_id: int) -> None:
        item = self._current(item_id)
        if item is not None:
            self._set(replace(item, state=ItemState.PENDING, updated=self._clock.now()))

    def _finish(self, item_id: int, state: ItemState, status: int | None, message: str) -> None:
        item = self._current(item_id)
        if item is not None:
            now = self._clock.now()
            attempt = Attempt(now, status, message)
            self._set(
                replace(
                    item,
                    state=state,
                    updated=now,
                    attempts=(*item.attempts, attempt),
                    status=status,
                    message=message,
                )
            )

    def _failed(self, item_id: int, error: LinkdeckError) -> None:
        item = self._current(item_id)
        if item is None:
            return
        now = self._clock.now()
        rule = rule_for(error)
        status = error.status if isinstance(error, ApiError) else None
        message = str(error)
        attempts = (*item.attempts, Attempt(now, status, message, rule.counts_as_attempt))
        delay = float(getattr(self.settings, rule.delay)) if rule.delay else 0.0
        state, next_at = rule.state, None
        if state == ItemState.WAITING:
            used = sum(1 for attempt in attempts if attempt.counted)
            if not self._retry_temporary or used >= self.settings.max_attempts:
                state = ItemState.FAILED
            else:
                next_at = now + delay
        elif state == ItemState.PENDING:
            state = self._ready_state(item.hoster, now)
        self._set(
            replace(
                item,
                state=state,
                updated=now,
                next_attempt_at=next_at,
                attempts=attempts,
                status=status,
                message=message,
            )
        )
        if rule.hold == HoldScope.HOSTER and item.hoster:
            self._record(self.history.record_hoster_unavailable, item.hoster, now, now + delay)
            self._hold(item.hoster, now + delay)
        elif rule.hold == HoldScope.ACCOUNT:
            self._hold(None, now + delay)
        if rule.pause:
            self.pause(rule.pause)


def _awaits_hosters(item: Item) -> bool:
    """Not matched yet: every item sent has a hoster, or was forced."""
    return item.hoster is None and not item.forced
