"""The records of the unlock queue: an item per link, and the engine's events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ItemState(StrEnum):
    PENDING = "pending"
    UNLOCKING = "unlocking"
    DONE = "done"
    FAILED = "failed"
    WAITING = "waiting"
    """A temporary failure: retried at `next_attempt_at`."""
    HELD = "held"
    """Ready, but its hoster or the whole account is on hold."""
    CANCELLED = "cancelled"
    UNSUPPORTED = "unsupported"
    """No hoster pattern matches: never sent unless forced."""


UNFINISHED = frozenset({ItemState.PENDING, ItemState.UNLOCKING, ItemState.WAITING, ItemState.HELD})


@dataclass(frozen=True, slots=True)
class Attempt:
    at: float
    status: int | None
    """The JSON status, or None when no answer came (transport or malformed)."""
    message: str
    counted: bool = True
    """False when the attempt does not count towards the attempt limit (401, 509)."""


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    link: str
    hoster: str | None
    state: ItemState
    created: float
    updated: float
    next_attempt_at: float | None = None
    attempts: tuple[Attempt, ...] = ()
    status: int | None = None
    """The status code of the last answer."""
    message: str = ""
    location: str | None = None
    """The direct link, once done."""
    filename: str | None = None
    filesize: int | None = None
    reused: bool = False
    """Done from the history of the last minutes, without calling the API."""
    forced: bool = False
    """Sent although no hoster pattern matches it."""
    owner: str | None = None
    """The process whose queue holds it (its claim in the history); None once it ended."""
    version: int = 0
    """Its row's version in the history: a write applies only over the version it read."""
    not_saved: str | None = field(default=None, compare=False)
    """Why this state is not in the history yet (kept in memory, written again later)."""

    def held_elsewhere(self, owner: str | None) -> bool:
        """Whether a process other than `owner` holds it (unfinished in its queue):
        that one sends it, not `owner`."""
        return self.owner is not None and self.owner != owner

    @property
    def counted_attempts(self) -> int:
        return sum(1 for attempt in self.attempts if attempt.counted)


@dataclass(frozen=True, slots=True)
class ItemRemoved:
    """An item left the log (and the history database)."""

    id: int


@dataclass(frozen=True, slots=True)
class QueueState:
    """The queue as a whole: emitted whenever a pause or a hold begins or ends."""

    paused: bool = False
    pause_reason: str | None = None
    hoster_holds: Mapping[str, float] = field(default_factory=dict)
    """Hoster name to the time its links may be sent again."""
    global_hold_until: float | None = None
    """Until when no link is sent at all (fair use exhausted)."""
    not_saved: str | None = None
    """Why the history cannot be written now: no link is sent until it can be."""
    unsaved: int = 0
    """How many items have a state kept in memory only, to be written once it can be."""


Event = Item | ItemRemoved | QueueState
