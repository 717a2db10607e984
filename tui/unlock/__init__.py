"""The unlock queue: link extraction, the retry policy, the scheduler, the history.

No Textual imports here: the dashboard and `linkdeck unlock` both drive it.

The names below load with their module on first use: the dashboard's first
frame needs the items' states, not the engine nor the history (SQLite).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.unlock.clock import Clock, FakeClock, SystemClock
    from tui.unlock.engine import (
        AWAITING_HOSTERS,
        NO_HOSTER,
        PAUSED_BY_USER,
        HeldElsewhere,
        UnlockEngine,
    )
    from tui.unlock.extract import extract_links
    from tui.unlock.history import (
        History,
        HistoryError,
        HistoryWriteError,
        HosterOutcome,
        item_record,
    )
    from tui.unlock.items import (
        UNFINISHED,
        Attempt,
        Event,
        Item,
        ItemRemoved,
        ItemState,
        QueueState,
    )
    from tui.unlock.policy import RULES, HoldScope, Rule, rule_for

_MODULE_OF = {
    "Clock": "clock",
    "FakeClock": "clock",
    "SystemClock": "clock",
    "AWAITING_HOSTERS": "engine",
    "NO_HOSTER": "engine",
    "PAUSED_BY_USER": "engine",
    "HeldElsewhere": "engine",
    "UnlockEngine": "engine",
    "extract_links": "extract",
    "History": "history",
    "HistoryError": "history",
    "HistoryWriteError": "history",
    "HosterOutcome": "history",
    "item_record": "history",
    "UNFINISHED": "items",
    "Attempt": "items",
    "Event": "items",
    "Item": "items",
    "ItemRemoved": "items",
    "ItemState": "items",
    "QueueState": "items",
    "RULES": "policy",
    "HoldScope": "policy",
    "Rule": "policy",
    "rule_for": "policy",
}


def __getattr__(name: str) -> object:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULE_OF])


__all__ = [
    "AWAITING_HOSTERS",
    "NO_HOSTER",
    "PAUSED_BY_USER",
    "RULES",
    "UNFINISHED",
    "Attempt",
    "Clock",
    "Event",
    "FakeClock",
    "HeldElsewhere",
    "History",
    "HistoryError",
    "HistoryWriteError",
    "HoldScope",
    "HosterOutcome",
    "Item",
    "ItemRemoved",
    "ItemState",
    "QueueState",
    "Rule",
    "SystemClock",
    "UnlockEngine",
    "extract_links",
    "item_record",
    "rule_for",
]
