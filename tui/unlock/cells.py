"""Checks of the values read from the history database.

SQLite stores any type in any column, and a damaged file, another program or
a hand edit may have put anything there: each value is checked for the type
and range linkdeck writes, and a row with one wrong value is unreadable
(skipped and counted, never a crash further on, when it is drawn or exported).
"""

from __future__ import annotations

import json
import math

from tui.unlock.items import Attempt, ItemState

LATEST_TIME = 253_402_300_799.0
"""9999-12-31 23:59:59 UTC: later times cannot be shown as a date."""
_STATES = {str(state): state for state in ItemState}


class Unreadable(ValueError):
    """A value that linkdeck did not write."""


def decode_text(raw: bytes) -> str:
    """SQLite's text_factory: text that is not UTF-8 is shown with U+FFFD
    rather than failing the whole query."""
    return raw.decode("utf-8", "replace")


def text(value: object) -> str:
    if not isinstance(value, str):
        raise Unreadable(value)
    return value


def optional_text(value: object) -> str | None:
    return None if value is None else text(value)


def integer(value: object) -> int:
    # bool is an int in Python, but SQLite never returns one: it came from JSON.
    if not isinstance(value, int) or isinstance(value, bool):
        raise Unreadable(value)
    return value


def optional_integer(value: object) -> int | None:
    return None if value is None else integer(value)


def time(value: object) -> float:
    """A Unix time that can be shown as a date."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise Unreadable(value)
    if not (math.isfinite(value) and 0 <= value <= LATEST_TIME):
        raise Unreadable(value)
    return float(value)


def optional_time(value: object) -> float | None:
    return None if value is None else time(value)


def fraction(value: object) -> float:
    """Fair use left, 0..1 as the API layer clamps it."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
        raise Unreadable(value)
    return float(value)


def state(value: object) -> ItemState:
    found = _STATES.get(value) if isinstance(value, str) else None
    if found is None:
        raise Unreadable(value)
    return found


def attempts(value: object) -> tuple[Attempt, ...]:
    """The attempts column: JSON `[[at, status, message, counted], ...]`
    (`counted` missing in rows of older versions)."""
    try:
        entries = json.loads(text(value))
    except (ValueError, RecursionError):  # not JSON, or nested past Python's stack
        raise Unreadable(value) from None
    if not isinstance(entries, list):
        raise Unreadable(value)
    found = []
    for entry in entries:
        if not isinstance(entry, list) or len(entry) not in (3, 4):
            raise Unreadable(entry)
        at, status, message, *counted = entry
        if counted and not isinstance(counted[0], bool):
            raise Unreadable(entry)
        found.append(Attempt(time(at), optional_integer(status), text(message), *counted))
    return tuple(found)
