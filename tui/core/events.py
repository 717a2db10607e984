"""What a session tells its front ends: one stream of typed events.

The unlock engine's own events (`Item`, `ItemRemoved`, `QueueState`) pass
through as they are; the rest are the session's. A front end subscribes with
`Session.subscribe` and shows what it is told.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from tui.core.batch import BatchEnded, BatchProgress
from tui.download.job import Download
from tui.unlock.items import Item, ItemRemoved, QueueState

if TYPE_CHECKING:
    from tui.api import AccountStatus, HosterList, HosterMatcher
    from tui.unlock.history import HosterOutcome


class Connection(StrEnum):
    """How fresh the account data is."""

    WAITING = "waiting"
    OK = "ok"
    REFRESHING = "refreshing"
    STALE = "stale"
    LOGIN_FAILED = "login failed"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class AccountView:
    """Everything the account panel shows."""

    account: AccountStatus | None = None
    connection: Connection = Connection.WAITING
    last_ok: float | None = None
    """When the account data was fetched."""
    next_retry: float | None = None
    problem: str = ""
    """Why the data is not fresh, in full."""
    fairuse_warning: bool = False
    expiry_warning: bool = False


@dataclass(frozen=True)
class AccountChanged:
    view: AccountView


@dataclass(frozen=True)
class FairUseTrend:
    samples: tuple[tuple[float, float], ...]
    """(time, fair use left) of the account in use, oldest first, over the
    trend's period (`FAIRUSE_SERIES_SECONDS`); as many as were taken, not one
    per bar: the panel bins them in time."""


@dataclass(frozen=True)
class HostersChanged:
    hosters: HosterList
    matcher: HosterMatcher
    """The list's matcher, built off the event loop."""


@dataclass(frozen=True)
class HosterOutcomes:
    outcomes: Mapping[str, HosterOutcome]


@dataclass(frozen=True)
class HostersFailed:
    problem: str


@dataclass(frozen=True)
class HistoryOpened:
    """The log shows the history from now on (read through the session)."""


@dataclass(frozen=True)
class SettingsNeeded:
    """The settings cannot be used to connect: the user must give them."""


Severity = Literal["information", "warning", "error"]


@dataclass(frozen=True, eq=False)
class Notice:
    """A sentence for the user. `eq=False`: two equal notices are two notices."""

    text: str
    title: str = ""
    severity: Severity = "information"
    timeout: float = 5.0


@dataclass(frozen=True)
class DownloadChanged:
    """A download's state or progress changed."""

    download: Download


@dataclass(frozen=True)
class DownloadTotals:
    """All downloads of this process together: for the status line."""

    speed: float
    remaining: int
    """Bytes left of the files downloading and queued (those whose size is known)."""
    active: int
    queued: int


EngineEvent = Item | ItemRemoved | QueueState
Event = (
    EngineEvent
    | AccountChanged
    | FairUseTrend
    | HostersChanged
    | HosterOutcomes
    | HostersFailed
    | HistoryOpened
    | SettingsNeeded
    | Notice
    | BatchProgress
    | BatchEnded
    | DownloadChanged
    | DownloadTotals
)

__all__ = [
    "AccountChanged",
    "AccountView",
    "BatchEnded",
    "BatchProgress",
    "Connection",
    "DownloadChanged",
    "DownloadTotals",
    "EngineEvent",
    "Event",
    "FairUseTrend",
    "HistoryOpened",
    "HosterOutcomes",
    "HostersChanged",
    "HostersFailed",
    "Item",
    "ItemRemoved",
    "Notice",
    "QueueState",
    "SettingsNeeded",
    "Severity",
]
