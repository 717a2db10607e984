"""A value that must never be shown: the PIN, and later other credentials.

Textual's crash report prints every frame's local variables, log records print
their arguments and exceptions carry what they were given. A `Secret` shows as
``***`` in all of them; its value is read (`reveal`) only where a request is
built or the config file is written.
"""

from __future__ import annotations

import hmac
from typing import NoReturn

REDACTED = "***"


class Secret:
    """A string that says ``***`` in every repr, str, format and pickle."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"a Secret holds a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The value itself: only for the request being sent or the file being saved."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return format(REDACTED, spec)

    def __copy__(self) -> Secret:
        return self  # immutable: a copy is the same value

    def __deepcopy__(self, memo: object) -> Secret:
        return self

    def __reduce__(self) -> NoReturn:
        # A pickled Secret would carry the value to wherever the bytes go.
        raise TypeError("a Secret cannot be pickled")
