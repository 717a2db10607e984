"""One item's download as the core keeps it: its state, where it goes, how far
it got, and what a resume needs; written to the history database as JSON.

What is read back is untrusted (another process, an older linkdeck, a hand
edit): `Download.from_json` checks every field and raises ValueError on
anything else.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any, TypeGuard


class DownloadState(StrEnum):
    QUEUED = "queued"
    DOWNLOADING = "downloading"
    PAUSED = "paused"
    VERIFYING = "verifying"
    """Every byte is there: the size is checked and the file gets its name."""
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = frozenset({DownloadState.DOWNLOADING, DownloadState.VERIFYING})
ENDED = frozenset({DownloadState.DONE, DownloadState.FAILED, DownloadState.CANCELLED})
MAX_TEXT_CHARS = 4096
"""A path, a URL or a message longer than this in a stored record is not ours."""
MAX_COUNT = 1 << 62
"""A count of bytes (or an id) beyond this in a stored record is not ours."""
TRANSIENT_FIELDS = ("speed", "connections", "elsewhere")
"""What a record tells of now only: never stored."""


@dataclass(frozen=True, slots=True)
class Download:
    item_id: int
    state: DownloadState
    url: str
    """The direct link fetched (a fresh one once an expired one was unlocked again)."""
    folder: str
    engine: str = "builtin"
    filename: str | None = None
    """The unlock answer's name: the name when the server sends none."""
    expected_size: int | None = None
    """The unlock answer's size, checked against the file's."""
    hoster: str | None = None
    done: int = 0
    total: int | None = None
    target: str | None = None
    """The file's path: the `.part`'s while it downloads, the file's once done."""
    resume: str | None = None
    """What the engine needs to go on (its own JSON): the `.part` and its segments."""
    gid: str | None = None
    """aria2's id of the download, with the aria2 engine."""
    message: str = ""
    """Why it failed or paused, in one sentence."""
    speed: float = 0.0
    """Bytes per second now (not stored)."""
    connections: int = 0
    """Connections open now (not stored)."""
    elsewhere: bool = False
    """Another linkdeck process holds it now: its record as read (not stored)."""
    started: float | None = None
    finished: float | None = None

    @property
    def remaining(self) -> int | None:
        return None if self.total is None else max(0, self.total - self.done)

    @property
    def eta(self) -> float | None:
        """Seconds left at the speed of now; None when unknown."""
        remaining = self.remaining
        if remaining is None or self.speed <= 0:
            return None
        return remaining / self.speed

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return 1.0 if self.state is DownloadState.DONE else None
        return min(1.0, self.done / self.total)

    def to_json(self) -> str:
        record = asdict(self)
        for transient in TRANSIENT_FIELDS:
            record.pop(transient)
        # ASCII: a path that is not UTF-8 (its bytes as lone surrogates) is
        # escaped, so the history (UTF-8) takes it and gives it back the same.
        return json.dumps(record, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Download:
        """The record `to_json` wrote; ValueError for anything else."""
        try:
            record = json.loads(text)
        except (TypeError, ValueError, RecursionError) as error:
            raise ValueError(f"not JSON: {error}") from None
        if not isinstance(record, dict):
            raise ValueError("not an object")
        values: dict[str, Any] = {}
        for field in fields(cls):
            if field.name in TRANSIENT_FIELDS:
                continue
            if field.name not in record:
                if field.name in _REQUIRED:
                    raise ValueError(f"no {field.name}")
                continue
            values[field.name] = _CHECKS[field.name](record[field.name], field.name)
        return cls(**values)

    def moved(self, **changes: Any) -> Download:
        return replace(self, **changes)


def is_count(value: object) -> TypeGuard[int]:
    """Whether untrusted `value` is a whole number (not a bool) of 0 to `MAX_COUNT`."""
    return type(value) is int and 0 <= value <= MAX_COUNT


def is_text(value: object) -> TypeGuard[str]:
    """Whether untrusted `value` is a text of ours: at most `MAX_TEXT_CHARS`, no NUL."""
    return isinstance(value, str) and len(value) <= MAX_TEXT_CHARS and "\x00" not in value


def _int(value: object, name: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if not is_count(value):
        raise ValueError(f"{name} is not a count")
    return value


def _optional_int(value: object, name: str) -> int | None:
    return _int(value, name, optional=True)


def _text(value: object, name: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not is_text(value):
        raise ValueError(f"{name} is not a text of ours")
    return value


def _optional_text(value: object, name: str) -> str | None:
    return _text(value, name, optional=True)


def _time(value: object, name: str) -> float | None:
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:  # type: ignore[arg-type]
        raise ValueError(f"{name} is not a time")
    return float(value)  # type: ignore[arg-type]


def _state(value: object, name: str) -> DownloadState:
    try:
        return DownloadState(value)
    except ValueError:
        raise ValueError(f"{name} is not a state") from None


def _engine(value: object, name: str) -> str:
    if value not in ("builtin", "aria2"):
        raise ValueError(f"{name} is not an engine")
    return str(value)


_REQUIRED = frozenset({"item_id", "state", "url", "folder"})
_CHECKS = {
    "item_id": _int,
    "state": _state,
    "url": _text,
    "folder": _text,
    "engine": _engine,
    "filename": _optional_text,
    "expected_size": _optional_int,
    "hoster": _optional_text,
    "done": _int,
    "total": _optional_int,
    "target": _optional_text,
    "resume": _optional_text,
    "gid": _optional_text,
    "message": _text,
    "started": _time,
    "finished": _time,
}
