"""The current batch: the links queued since the queue was last idle, and how
far they got. It ends when each of them has ended."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tui.unlock.items import UNFINISHED, Item, ItemRemoved, ItemState

ENDED_ORDER = (ItemState.DONE, ItemState.FAILED, ItemState.CANCELLED, ItemState.UNSUPPORTED)
"""The end states, in the order a batch's summary names them."""


@dataclass(frozen=True)
class BatchProgress:
    """Where the current batch is: an event of the session, after each change."""

    total: int = 0
    states: Counter[ItemState] = field(default_factory=Counter)

    @property
    def ended(self) -> int:
        return self.total - sum(self.states[state] for state in UNFINISHED)

    @property
    def waiting(self) -> int:
        """Not ended, and not being sent now."""
        return self.total - self.ended - self.states[ItemState.UNLOCKING]

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.ended == self.total

    def summary(self) -> str:
        """ "50 links: 47 done, 3 failed" """
        links = "link" if self.total == 1 else "links"
        ends = ", ".join(
            f"{self.states[state]} {state.value}" for state in ENDED_ORDER if self.states[state]
        )
        return f"{self.total} {links}: {ends}"


@dataclass(frozen=True)
class BatchEnded:
    """Every link of the batch has ended: an event of the session."""

    progress: BatchProgress


class Batch:
    """Follows the items of the current batch: an item joins it when it is seen
    unfinished in this process's queue (queued, retried, taken back at start)."""

    def __init__(self) -> None:
        self._states: dict[int, ItemState] = {}
        self._counts: Counter[ItemState] = Counter()
        """Items per state, kept as they change: a count of every item at each
        event made 100,000 links quadratic."""

    def seen(self, event: Item | ItemRemoved, *, ours: bool) -> BatchProgress | None:
        """The batch after `event` (`ours`: the item is in this process's
        queue); None when the event is no part of it."""
        if isinstance(event, ItemRemoved):
            # An ended link cleared from the log still ended in this batch.
            if self._states.get(event.id) in (None, *ENDED_ORDER):
                return None
            self._set(event.id, None)
        elif event.id in self._states or (ours and event.state in UNFINISHED):
            self._set(event.id, event.state)
        else:
            return None
        return self._progress()

    def join(self, items: Iterable[Item]) -> BatchProgress | None:
        """Links just queued that ended at once (no hoster serves them, or the
        history's answer was reused) join the batch too."""
        joined = False
        for item in items:
            if item.id not in self._states:
                joined = self._set(item.id, item.state)
        return self._progress() if joined else None

    def _set(self, item_id: int, state: ItemState | None) -> bool:
        """Follow `item_id` in `state` (None: no more); whether it was or is followed."""
        before = self._states.pop(item_id, None)
        if before is not None:
            self._counts[before] -= 1
        if state is not None:
            self._states[item_id] = state
            self._counts[state] += 1
        return before is not None or state is not None

    def _progress(self) -> BatchProgress:
        progress = BatchProgress(len(self._states), +self._counts)
        if progress.finished or not self._states:
            # The next link queued starts a new batch.
            self._states.clear()
            self._counts.clear()
        return progress
