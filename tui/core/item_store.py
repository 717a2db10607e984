"""The items a front end shows: this session's as the engine tells them, the
earlier ones read from the history when asked for, a few kept."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tui.unlock.items import Item, ItemRemoved, ItemState, QueueState

if TYPE_CHECKING:
    from tui.unlock.history import History
    from tui.unlock.log_query import LogQuery

EARLIER_KEPT = 1024
"""Items of earlier sessions kept after being read for the screen or the detail."""


class ItemStore:
    def __init__(self) -> None:
        self.history: History | None = None
        self._current: dict[int, Item] = {}
        self._earlier: OrderedDict[int, Item] = OrderedDict()

    def use(self, history: History) -> None:
        self.history = history
        self._earlier.clear()

    def seen(self, event: Item | ItemRemoved | QueueState) -> None:
        """Keep what the engine says of an item."""
        if isinstance(event, Item):
            self._earlier.pop(event.id, None)
            self._current[event.id] = event
        elif isinstance(event, ItemRemoved):
            self._current.pop(event.id, None)
            self._earlier.pop(event.id, None)

    def item(self, item_id: int) -> Item | None:
        item = self._current.get(item_id)
        if item is not None or self.history is None:
            return item
        item = self._earlier.get(item_id)
        if item is not None:
            self._earlier.move_to_end(item_id)
            return item
        item = self.history.get(item_id)
        if item is not None:
            self._earlier[item_id] = item
            if len(self._earlier) > EARLIER_KEPT:
                self._earlier.popitem(last=False)
        return item

    def current(self) -> Iterator[Item]:
        """This session's items, in the order they came."""
        return iter(list(self._current.values()))

    def find_keys(self, query: LogQuery) -> list[str]:
        """The ids (as text) of the history's items `query` finds, in its order."""
        return self.history.find_keys(query) if self.history is not None else []

    def counts(self) -> dict[ItemState, int]:
        """Items per state, as the history has them (other processes' too)."""
        return self.history.counts_by_state() if self.history is not None else {}

    def held_elsewhere(self, item: Item) -> bool:
        """In the queue of another linkdeck process: that one sends it, not this one."""
        return item.held_elsewhere(self.history.owner if self.history is not None else None)

    def unreadable(self, item_id: int) -> bool:
        return self.history is not None and item_id in self.history.unreadable_ids
