"""The unlock queue: link extraction, the retry policy, the scheduler, the history.

No Textual imports here: the dashboard and `linkdeck unlock` both drive it.
"""

from tui.unlock.clock import Clock, FakeClock, SystemClock
from tui.unlock.engine import (
    AWAITING_HOSTERS,
    NO_HOSTER,
    PAUSED_BY_USER,
    HeldElsewhere,
    UnlockEngine,
)
from tui.unlock.extract import extract_links
from tui.unlock.history import History, HistoryError, HistoryWriteError, HosterOutcome, item_record
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
