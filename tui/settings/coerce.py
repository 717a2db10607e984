"""From a raw value to the typed value of one setting.

``coerce`` is the one path every caller takes: the config file (TOML values),
the environment and command-line flags, and the settings form (text typed in
a box). So they cannot disagree on what is valid, nor word a problem two ways.
Messages name the key and the kind of a wrong value, never a text value, so
the password cannot leak through them.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from functools import partial
from urllib.parse import urlsplit

from tui.api.transport import is_loopback
from tui.untrusted import plain

from .model import FIELDS, SettingField, SettingsError

__all__ = ["KEYMAP", "coerce", "did_you_mean", "kind_of"]

KEYMAP = "keymap"
"""The free-form table: binding id -> keys."""

_EXPECTED = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "text in quotes",
}
_KEYS_EXPECTED = 'text in quotes (keys such as "ctrl+u")'
_TRUE_WORDS = {"true", "yes", "on", "1"}
_FALSE_WORDS = {"false", "no", "off", "0"}
MAX_LOGIN_CHARS = 200


def kind_of(value: object) -> str:
    """A short description of a TOML value's type, never of the value itself."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, datetime | date | time):
        return "a date or time"
    return type(value).__name__


def did_you_mean(name: str, choices: Iterable[str], *, table: bool = False) -> str | None:
    """The hint for a misspelt key (``did you mean "concurrency"?``) or table
    (``did you mean [unlock]?``); ``None`` when no choice is close."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    if not matches:
        return None
    return f"did you mean [{matches[0]}]?" if table else f'did you mean "{matches[0]}"?'


def _wrong_type(key: str, expected: str, value: object) -> SettingsError:
    return SettingsError(f"{key} must be {expected}, not {kind_of(value)}", key=key)


def _shown(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


# -- the rules of single keys beyond their type ----------------------------------


def _url_problem(key: str, url: str) -> str | None:
    """What is wrong with ``url`` as the value of ``key`` (an http(s) URL), if anything."""
    if not url:
        return None
    if any(char.isspace() for char in url):
        return f"{key} must not contain spaces"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return f"{key} is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return f"{key} must start with https:// (or http://)"
    if not parts.hostname:
        return f"{key} has no host name"
    return None


def _check_url(url: str) -> str | None:
    problem = _url_problem("api.url", url)
    if problem is None and (urlsplit(url).username or urlsplit(url).password):
        return "api.url must not contain a user name or password; use login and password"
    return problem


def _check_rpc_url(url: str) -> str | None:
    key = "aria2.rpc_url"
    if not url:
        return f"{key} must be set (aria2's default is http://127.0.0.1:6800/jsonrpc)"
    problem = _url_problem(key, url)
    if problem is not None:
        return problem
    parts = urlsplit(url)
    if parts.username or parts.password:
        return f"{key} must not contain a user name or password; use secret"
    # The secret travels in the body: in clear text only to this machine.
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        return f"{key} uses plain http:// to another machine: the secret would travel unencrypted"
    return None


def _utf8_problem(key: str, text: str) -> str | None:
    """Text from the environment or the command line is the bytes given,
    undecoded where they are not UTF-8 (a Latin-1 terminal): they would fail
    deep in the HTTP layer, said as an unreachable service."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"{key} is not UTF-8 text"
    return None


def _check_login(login: str) -> str | None:
    # Any login the service may accept (its own example is "john"); not one that
    # would break a terminal line or a URL.
    if problem := _utf8_problem("api.login", login):
        return problem
    if login != login.strip():
        return "api.login must not start or end with spaces"
    if plain(login) != login:
        return "api.login must not contain control or invisible characters"
    if len(login) > MAX_LOGIN_CHARS:
        return f"api.login must be at most {MAX_LOGIN_CHARS} characters"
    return None


def _full_path_problem(key: str, path: str) -> str | None:
    """What is wrong with ``path`` as a full path (``~`` allowed) for ``key``, if anything."""
    if not path:
        return None
    if plain(path) != path:
        return f"{key} must not contain control or invisible characters"
    # Relative to what? The dashboard's folder changes from one start to the next.
    if not (path.startswith("~") or os.path.isabs(path)):
        return f"{key} must be a full path, from / or ~"
    if os.path.expanduser(path).startswith("~"):
        return f"{key} names the home folder of a user this machine does not know"
    return None


_KEY_RULES = {
    "api.url": _check_url,
    "api.login": _check_login,
    "api.password": partial(_utf8_problem, "api.password"),
    "api.ca_file": partial(_full_path_problem, "api.ca_file"),
    "download.dir": partial(_full_path_problem, "download.dir"),
    "aria2.rpc_url": _check_rpc_url,
}


# -- the steps of coerce ----------------------------------------------------------


def _read_text(text: str, wanted: type) -> object:
    """What typed text means for a setting of type ``wanted``: the number or
    true/false it spells, else the text itself (which the type check refuses)."""
    if wanted is str:
        return text
    word = text.strip()
    if wanted is bool:
        if word.lower() in _TRUE_WORDS:
            return True
        if word.lower() in _FALSE_WORDS:
            return False
        return text
    for number in (int, float):
        try:
            return number(word)
        except ValueError:
            pass
    return text


def _of_type(field: SettingField, value: object) -> object:
    """``value`` as ``field.type`` (a whole number is a number too), or raise."""
    wanted = field.type
    if wanted is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _wrong_type(field.key, _EXPECTED[float], value)
        try:
            value = float(value)
        except OverflowError:  # a whole number past the largest float
            value = math.inf
        if not math.isfinite(value):
            raise SettingsError(f"{field.key} must be a finite number", key=field.key)
        return value
    # bool is an int to Python, not to a setting.
    if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
        raise _wrong_type(field.key, _EXPECTED[wanted], value)
    return value


def _check_bounds(field: SettingField, number: float) -> None:
    key, low, high, above = field.key, field.min, field.max, field.gt
    if low is not None and high is not None and not low <= number <= high:
        reason = f"{key} must be from {_shown(low)} to {_shown(high)}, not {_shown(number)}"
    elif low is not None and number < low:
        reason = f"{key} must be at least {_shown(low)}, not {_shown(number)}"
    elif high is not None and number > high:
        reason = f"{key} must be at most {_shown(high)}, not {_shown(number)}"
    elif above is not None and number <= above:
        reason = f"{key} must be greater than {_shown(above)}, not {_shown(number)}"
    else:
        return
    raise SettingsError(reason, key=key)


def _keys_of_binding(key: str, binding: str, keys: object) -> str:
    if not binding:
        raise SettingsError("keymap entries need a binding id", key=key)
    if not isinstance(keys, str):
        raise _wrong_type(key, _KEYS_EXPECTED, keys)
    if not keys.strip():
        raise SettingsError(f"{key} must name at least one key", key=key)
    return keys


def coerce(key: str, raw: object, *, from_text: bool = False) -> object:
    """The typed value of dotted ``key`` (``"unlock.concurrency"``, ``"keymap.unlock"``)
    from ``raw``: a value as TOML gives it or, with ``from_text``, as a person
    entered it (settings form, environment, command line), where text is read as
    the number or true/false/yes/no/on/off it spells.

    Raises ``SettingsError`` with ``.key`` set: an unknown key (with a close one
    suggested), a wrong type, a value out of bounds or one a key's rule refuses.
    """
    section, _, name = key.partition(".")
    if section == KEYMAP:
        return _keys_of_binding(key, name, raw)
    field = FIELDS.get(key)
    if field is None:
        hint = did_you_mean(key, [*FIELDS, f"{KEYMAP}.<binding id>"])
        raise SettingsError(f'unknown setting "{key}"', key=key, hint=hint)
    if from_text and isinstance(raw, str):
        raw = _read_text(raw, field.type)
    value = _of_type(field, raw)
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_bounds(field, value)
    if field.choices and value not in field.choices:
        named = ", ".join(f'"{choice}"' for choice in field.choices)
        raise SettingsError(f"{key} must be one of {named}", key=key)
    rule = _KEY_RULES.get(key)
    reason = rule(value) if rule is not None else None  # type: ignore[arg-type]
    if reason:
        raise SettingsError(reason, key=key)
    return value
