"""Validation of settings data (as parsed from TOML) into typed settings.

``validate`` returns every problem, each a ``SettingsError`` with a dotted key
and, when the file text is given, its line; the loader raises the first one.
Messages name the key and the kind of a wrong value, never a string value, so
the password cannot leak through them.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlsplit

from tui.untrusted import plain

from .model import (
    FIELDS,
    SECTIONS,
    Override,
    SettingField,
    Settings,
    SettingsError,
)

__all__ = [
    "find_line",
    "parse_value",
    "settings_from_dict",
    "settings_to_dict",
    "validate",
]

_KEYMAP = "keymap"
TABLES = (*SECTIONS, _KEYMAP)

Problem = SettingsError  # located later with ``located(path, line)``


def _kind(value: object) -> str:
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


def _num(n: float) -> str:
    return f"{n:g}" if isinstance(n, float) else str(n)


_EXPECTED = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "text in quotes",
}


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(url: str) -> str | None:
    if not url:
        return None
    if any(c.isspace() for c in url):
        return "api.url must not contain spaces"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return "api.url is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "api.url must start with https:// (or http://)"
    if not parts.hostname:
        return "api.url has no host name"
    if parts.username or parts.password:
        return "api.url must not contain a user name or password; use login and password"
    return None


MAX_LOGIN_CHARS = 200


def _check_login(login: str) -> str | None:
    # Any login the service may accept (its own example is "john"); not one that
    # would break a terminal line or a URL.
    if login != login.strip():
        return "api.login must not start or end with spaces"
    if plain(login) != login:
        return "api.login must not contain control or invisible characters"
    if len(login) > MAX_LOGIN_CHARS:
        return f"api.login must be at most {MAX_LOGIN_CHARS} characters"
    return None


def _check_ca_file(path: str) -> str | None:
    if not path:
        return None
    if plain(path) != path:
        return "api.ca_file must not contain control or invisible characters"
    # Relative to what? The dashboard's folder changes from one start to the next.
    if not (path.startswith("~") or os.path.isabs(path)):
        return "api.ca_file must be a full path, from / or ~"
    if os.path.expanduser(path).startswith("~"):
        return "api.ca_file names the home folder of a user this machine does not know"
    return None


_CHECKS = {"api.url": _check_url, "api.login": _check_login, "api.ca_file": _check_ca_file}


def check_value(f: SettingField, value: object) -> tuple[object, str | None]:
    """Normalise one value for field ``f``: ``(value, None)`` or ``(None, reason)``."""
    t = f.type
    bad_type = f"{f.key} must be {_EXPECTED[t]}, not {_kind(value)}"
    if t is bool:
        if not isinstance(value, bool):
            return None, bad_type
    elif t is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return None, bad_type
    elif t is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, bad_type
        value = float(value)
        if not math.isfinite(value):
            return None, f"{f.key} must be a finite number"
    elif not isinstance(value, str):
        return None, bad_type
    if t in (int, float):
        assert isinstance(value, int | float)
        lo, hi, gt = f.min, f.max, f.gt
        if lo is not None and hi is not None and not lo <= value <= hi:
            return None, f"{f.key} must be from {_num(lo)} to {_num(hi)}, not {_num(value)}"
        if lo is not None and value < lo:
            return None, f"{f.key} must be at least {_num(lo)}, not {_num(value)}"
        if hi is not None and value > hi:
            return None, f"{f.key} must be at most {_num(hi)}, not {_num(value)}"
        if gt is not None and value <= gt:
            return None, f"{f.key} must be greater than {_num(gt)}, not {_num(value)}"
    check = _CHECKS.get(f.key)
    if check is not None:
        reason = check(value)  # type: ignore[arg-type]
        if reason:
            return None, reason
    return value, None


def check_keymap_entry(name: object, keys: object) -> str | None:
    if not isinstance(name, str) or not name:
        return "keymap entries need a binding id"
    if not isinstance(keys, str):
        return f'keymap.{name} must be text in quotes (keys such as "ctrl+u"), not {_kind(keys)}'
    if not keys.strip():
        return f"keymap.{name} must name at least one key"
    return None


def _suggest(name: str, choices: Iterator[str] | list[str] | tuple[str, ...]) -> str | None:
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return match[0] if match else None


def _defaults() -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {s: {} for s in TABLES}
    for f in FIELDS.values():
        out[f.section][f.name] = f.default
    return out


def check_tree(
    data: Mapping[str, Any], *, cross: bool = True
) -> tuple[dict[str, dict[str, object]], list[Problem]]:
    """Normalise ``data`` over the defaults; return it with every problem found.

    With ``cross=False`` the checks that involve several keys are left out
    (the loader runs them after applying environment and command-line overrides).
    """
    out = _defaults()
    problems: list[Problem] = []
    for table, body in data.items():
        if table not in TABLES:
            if isinstance(body, Mapping):
                best = _suggest(table, TABLES)
                hint = f"did you mean [{best}]?" if best else None
                problems.append(Problem(f"unknown table [{table}]", key=table, hint=hint))
            else:
                home = [f.section for f in FIELDS.values() if f.name == table]
                hint = f"it belongs in [{home[0]}]" if home else None
                problems.append(
                    Problem(f'unknown key "{table}" at the top level', key=table, hint=hint)
                )
            continue
        if not isinstance(body, Mapping):
            problems.append(Problem(f"[{table}] must be a table, not {_kind(body)}", key=table))
            continue
        if table == _KEYMAP:
            for name, keys in body.items():
                reason = check_keymap_entry(name, keys)
                if reason:
                    problems.append(Problem(reason, key=f"keymap.{name}"))
                else:
                    out[_KEYMAP][name] = keys
            continue
        for name, value in body.items():
            key = f"{table}.{name}"
            f = FIELDS.get(key)
            if f is None:
                names = [x.name for x in FIELDS.values() if x.section == table]
                best = _suggest(str(name), names)
                hint = f'did you mean "{best}"?' if best else None
                problems.append(Problem(f'unknown key "{name}" in [{table}]', key=key, hint=hint))
                continue
            norm, reason = check_value(f, value)
            if reason:
                problems.append(Problem(reason, key=key))
            else:
                out[table][name] = norm
    if cross:
        problems.extend(cross_checks(out))
    return out, problems


def cross_checks(tree: Mapping[str, Mapping[str, object]]) -> list[Problem]:
    api = tree["api"]
    url = str(api["url"])
    if url and not api["allow_insecure_http"] and _check_url(url) is None:
        parts = urlsplit(url)
        if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
            return [
                Problem(
                    "api.url uses plain http://, which would send your PIN unencrypted",
                    key="api.url",
                    hint="use https:// or set allow_insecure_http = true",
                )
            ]
    return []


# -- line finding -------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")


def _norm_header(s: str) -> str:
    return re.sub(r"[\s\"']", "", s)


def _key_pattern(name: str) -> re.Pattern[str]:
    n = re.escape(name)
    return re.compile(rf"^\s*(?:{n}|\"{n}\"|'{n}')\s*=")


def find_line(text: str, key: str) -> int | None:
    """The 1-based line where dotted ``key`` (or a table name) is set in TOML ``text``.

    A best-effort scan, good for the usual ``[table]`` / ``key = value`` layout;
    falls back to ``table.key =`` and inline tables, then ``None``.
    """
    table, dot, name = key.partition(".")
    lines = text.splitlines()
    current = ""
    want = _key_pattern(name) if dot else None
    for i, line in enumerate(lines, 1):
        m = _HEADER.match(line)
        if m:
            current = _norm_header(m.group(1))
            if not dot and current == table:
                return i
            continue
        if want is not None and current == table and want.match(line):
            return i
        if not dot and current == "" and _key_pattern(table).match(line):
            return i
    # Dotted keys (``unlock.concurrency = 3``) or inline tables (``unlock = {concurrency = 3}``).
    t, n = re.escape(table), re.escape(name)
    fallback = (
        re.compile(rf"^\s*{t}\s*\.\s*{n}\s*=|^\s*{t}\s*=.*[{{,]\s*{n}\s*=")
        if dot
        else re.compile(rf"^\s*{t}\s*[.=]")
    )
    for i, line in enumerate(lines, 1):
        if fallback.search(line):
            return i
    return None


def _locate(problems: list[Problem], path: object | None, text: str | None) -> list[Problem]:
    out = []
    for p in problems:
        line = find_line(text, p.key) if text is not None and p.key else None
        out.append(p.located(path, line))
    return out


def validate(
    data: Mapping[str, Any], *, path: object | None = None, text: str | None = None
) -> list[SettingsError]:
    """Every problem in settings ``data`` (TOML-shaped: tables of plain values).

    Each problem has ``.key`` (dotted), ``.detail`` for inline display and, when
    the file ``text`` is given, ``.line``. An empty list means the data is valid.
    Missing keys are fine: they take their defaults.
    """
    return _locate(check_tree(data)[1], path, text)


def build(tree: Mapping[str, Mapping[str, object]], overrides: Mapping[str, Override]) -> Settings:
    """Settings from a normalised tree (the output of ``check_tree``)."""
    sections = {s: cls(**tree[s]) for s, cls in SECTIONS.items()}
    return Settings(**sections, keymap=dict(tree[_KEYMAP]), overrides=overrides)


def raise_first(problems: list[SettingsError]) -> None:
    """Raise the first problem (by line, then order), carrying all of them."""
    if problems:
        ordered = sorted(problems, key=lambda p: (p.line is None, p.line or 0))
        first = ordered[0]
        first.problems = tuple(ordered)
        raise first


def settings_from_dict(data: Mapping[str, Any], *, base: Settings | None = None) -> Settings:
    """Validated ``Settings`` from a dict shaped like the TOML file (missing keys: defaults).

    Raises the first ``SettingsError`` (all of them in ``.problems``). With
    ``base``, the result keeps ``base.overrides`` so that saving it still does
    not persist values that came from the environment or the command line.
    """
    tree, problems = check_tree(data)
    raise_first(_locate(problems, None, None))
    return build(tree, base.overrides if base is not None else {})


def settings_to_dict(settings: Settings) -> dict[str, dict[str, Any]]:
    """A plain dict of every setting, shaped like the TOML file (password included)."""
    out: dict[str, dict[str, Any]] = {}
    for section in SECTIONS:
        obj = getattr(settings, section)
        out[section] = {
            f.name: getattr(obj, f.name) for f in FIELDS.values() if f.section == section
        }
    out[_KEYMAP] = dict(settings.keymap)
    return out


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_value(key: str, text: str) -> object:
    """Parse and validate the text of one setting (from an input box or ``--set``).

    Returns the typed value for dotted ``key`` or raises ``SettingsError``.
    Strings are taken as they are; numbers and true/false/yes/no/on/off parsed.
    """
    section, _, name = key.partition(".")
    if section == _KEYMAP and name:
        reason = check_keymap_entry(name, text)
        if reason:
            raise SettingsError(reason, key=key)
        return text
    f = FIELDS.get(key)
    if f is None:
        best = _suggest(key, [*FIELDS, "keymap.<binding id>"])
        hint = f'did you mean "{best}"?' if best else None
        raise SettingsError(f'unknown setting "{key}"', key=key, hint=hint)
    value: object = text
    s = text.strip()
    if f.type is bool:
        if s.lower() in _TRUE:
            value = True
        elif s.lower() in _FALSE:
            value = False
        else:
            raise SettingsError(f"{key} must be true or false", key=key)
    elif f.type is int:
        try:
            value = int(s)
        except ValueError:
            raise SettingsError(f"{key} must be a whole number", key=key) from None
    elif f.type is float:
        try:
            value = float(s)
        except ValueError:
            raise SettingsError(f"{key} must be a number", key=key) from None
    norm, reason = check_value(f, value)
    if reason:
        raise SettingsError(reason, key=key)
    return norm
