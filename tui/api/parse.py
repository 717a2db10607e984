"""Pure parsing of the legacy API's answers: (HTTP status, body) to a model.

The HTTP status may mirror the JSON status (as the real service did) or be 200
with an error in the JSON; both work because only the JSON status is read when
there is an envelope. Fields are read by key; unknown fields are ignored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from tui.api.errors import MalformedResponse, error_for_status
from tui.api.models import (
    AccountStatus,
    ConnectionSettings,
    DirectLink,
    Hoster,
    HosterList,
)
from tui.untrusted import plain, storable_json

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_HOSTERLIST_BYTES = 32 * 1024 * 1024
"""The hoster list alone may be larger: 50,000 hosters take about 15 MB."""
MAX_MESSAGE_CHARS = 200
MAX_LOCATION_BYTES = 8192
LAST_TIMESTAMP = 253_402_300_799
"""9999-12-31 23:59:59 UTC: an expiry past it shows as no expiry."""
MAX_FILESIZE = 2**63 - 1
"""The largest size SQLite stores; a larger one is no size at all."""
MAX_CONNECTIONS = 10_000
_MAX_DIGITS = 20
"""Digits in a number sent as a string: more is not a time or a size (and int()
of a 5,000-digit string raises)."""


def parse_envelope(http_status: int, body: bytes, max_bytes: int = MAX_BODY_BYTES) -> Any:
    """The `result` of a successful envelope, or raise the typed error."""
    if len(body) > max_bytes:
        raise MalformedResponse(f"body larger than {max_bytes // (1024 * 1024)} MB")
    try:
        # Every string made storable here, once: nothing above sees a lone
        # surrogate or a NUL (valid JSON, and fatal to SQLite and terminals).
        envelope = storable_json(json.loads(body), body)
    except (ValueError, RecursionError):
        raise MalformedResponse(_not_json(http_status, body)) from None
    if not isinstance(envelope, dict) or "status" not in envelope:
        raise MalformedResponse("no status envelope")
    status = _whole_number(envelope["status"])
    if status is None or not 0 <= status <= 999:
        raise MalformedResponse("status is not a status code")
    message = envelope.get("statusmessage")
    message = plain(message, MAX_MESSAGE_CHARS) if isinstance(message, str) else ""
    if status != 200:
        raise error_for_status(status, message)
    if "result" not in envelope:
        raise MalformedResponse("no result in a successful answer")
    return envelope["result"]


def _not_json(http_status: int, body: bytes) -> str:
    if body.lstrip()[:1] == b"<":
        return f"HTML page instead of JSON (HTTP {http_status})"
    return f"not JSON (HTTP {http_status})"


def parse_account_status(http_status: int, body: bytes) -> AccountStatus:
    result = _object(parse_envelope(http_status, body), "result")
    account_type = _str(result, "type")
    if account_type not in ("premium", "trial", "prepaid", "free"):
        # An unknown type is shown as the server sent it; it is not "free".
        account_type = plain(account_type, 40)
    return AccountStatus(
        account_name=_str(result, "account_name"),
        type=account_type,
        expires=_expiry(result),
        fairuse_left=_fraction(result, "fairuse_left"),
        extuid=result.get("extuid") if isinstance(result.get("extuid"), str) else None,
    )


def parse_hoster_list(http_status: int, body: bytes) -> HosterList:
    result = _object(parse_envelope(http_status, body, MAX_HOSTERLIST_BYTES), "result")
    hosters_raw = _object(result.get("hosters"), "hosters")
    settings_raw = result.get("connection_settings")
    settings = settings_raw if isinstance(settings_raw, dict) else {}
    hosters = []
    for name, entry in hosters_raw.items():
        entry = _object(entry, f"hosters.{plain(name, 60)}")
        hosters.append(
            Hoster(
                name=name,
                tlds=_str_list(entry, "tlds"),
                regexes=_str_list(entry, "regexes"),
                connection_settings=_connection_settings(settings.get(name)),
            )
        )
    hosters.sort(key=lambda hoster: hoster.name.casefold())
    return HosterList(tuple(hosters), _connection_settings(settings.get("all")))


def parse_direct_link(http_status: int, body: bytes) -> DirectLink:
    result = _object(parse_envelope(http_status, body), "result")
    location = _str(result, "location")
    if not location.startswith(("http://", "https://")):
        raise MalformedResponse("location is not an http(s) URL")
    if len(location.encode()) > MAX_LOCATION_BYTES:
        raise MalformedResponse("location is too long")
    if plain(location) != location:
        # No URL holds them; copied to the clipboard they could end a bracketed
        # paste or spoof the link's text (right-to-left override).
        raise MalformedResponse("location contains control or invisible characters")
    filename = result.get("filename")
    filesize = _whole_number(result.get("filesize"))
    return DirectLink(
        location=location,
        filename=filename if isinstance(filename, str) and filename else None,
        filesize=filesize if filesize is not None and 0 <= filesize <= MAX_FILESIZE else None,
    )


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedResponse(f"{where} is not an object")
    return value


def _field(result: dict[str, Any], key: str, check: Callable[[Any], bool], kind: str) -> Any:
    if key not in result:
        raise MalformedResponse(f"{key} is missing")
    value = result[key]
    if not check(value):
        raise MalformedResponse(f"{key} is not {kind}")
    return value


def _str(result: dict[str, Any], key: str) -> str:
    return _field(result, key, lambda v: isinstance(v, str), "text")


def _whole_number(value: Any) -> int | None:
    """An integer sent as one, as a float with nothing after the point, or as a
    string of at most 20 digits; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        digits = text.removeprefix("-")
        if digits.isascii() and digits.isdigit() and len(digits) <= _MAX_DIGITS:
            return int(text)
    return None


def _expiry(result: dict[str, Any]) -> int | None:
    """The account's expiry: null, or past the year 9999, is no expiry; before
    1970 is the epoch (long expired); a fraction of a second is dropped."""
    value = result.get("expires")
    if value is None:
        return None
    if isinstance(value, float) and math.isfinite(value):
        value = math.floor(value)
    expires = _whole_number(value)
    if expires is None:
        if isinstance(value, str) and value.strip().isdigit():
            return None  # more digits than any time: far beyond the year 9999
        raise MalformedResponse("expires is not a time")
    return None if expires > LAST_TIMESTAMP else max(expires, 0)


def _fraction(result: dict[str, Any], key: str) -> float:
    value = _field(
        result,
        key,
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
        "a number",
    )
    return min(max(float(value), 0.0), 1.0)


def _str_list(entry: dict[str, Any], key: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise MalformedResponse(f"{key} is not a list")
    return tuple(item for item in value if isinstance(item, str))


def _connection_settings(value: Any) -> ConnectionSettings | None:
    if not isinstance(value, dict):
        return None

    def number(key: str) -> int | None:
        item = _whole_number(value.get(key))
        return item if item is not None and 0 <= item <= MAX_CONNECTIONS else None

    resume = value.get("resume")
    return ConnectionSettings(
        max_connections_per_file=number("max_connections_per_file"),
        max_connections_per_hoster=number("max_connections_per_hoster"),
        resume=resume if isinstance(resume, bool) else None,
    )
