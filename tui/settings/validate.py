"""Validation of settings data (as parsed from TOML) into typed settings.

``validate`` returns every problem, each a ``SettingsError`` with a dotted key
and, when the file text is given, its line; the loader raises the first one.
Each value goes through ``coerce``; the tables and the rules that span keys
are checked here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tui.api.transport import is_loopback

from .coerce import KEYMAP, coerce, did_you_mean, kind_of
from .lines import locate
from .model import FIELDS, SECTIONS, Override, Settings, SettingsError

__all__ = [
    "TABLES",
    "Tree",
    "build",
    "check_tree",
    "cross_checks",
    "raise_first",
    "settings_from_dict",
    "settings_to_dict",
    "validate",
]

TABLES = (*SECTIONS, KEYMAP)

Tree = dict[str, dict[str, object]]
"""Table -> name -> value: settings data with every value coerced."""


def _defaults() -> Tree:
    tree: Tree = {table: {} for table in TABLES}
    for field in FIELDS.values():
        tree[field.section][field.name] = field.default
    return tree


def _outside_tables(name: str, body: object) -> SettingsError:
    if isinstance(body, Mapping):
        hint = did_you_mean(name, TABLES, table=True)
        return SettingsError(f"unknown table [{name}]", key=name, hint=hint)
    home = [field.section for field in FIELDS.values() if field.name == name]
    hint = f"it belongs in [{home[0]}]" if home else None
    return SettingsError(f'unknown key "{name}" at the top level', key=name, hint=hint)


def _unknown_key(table: str, name: str) -> SettingsError:
    names = [field.name for field in FIELDS.values() if field.section == table]
    hint = did_you_mean(name, names)
    return SettingsError(f'unknown key "{name}" in [{table}]', key=f"{table}.{name}", hint=hint)


def check_tree(data: Mapping[str, Any], *, cross: bool = True) -> tuple[Tree, list[SettingsError]]:
    """Coerce ``data`` over the defaults; return it with every problem found.

    With ``cross=False`` the checks that involve several keys are left out
    (the loader runs them after applying environment and command-line overrides).
    """
    tree = _defaults()
    problems: list[SettingsError] = []
    for table, body in data.items():
        if table not in TABLES:
            problems.append(_outside_tables(table, body))
            continue
        if not isinstance(body, Mapping):
            problems.append(
                SettingsError(f"[{table}] must be a table, not {kind_of(body)}", key=table)
            )
            continue
        for name, raw in body.items():
            key = f"{table}.{name}"
            if table != KEYMAP and key not in FIELDS:
                problems.append(_unknown_key(table, str(name)))
                continue
            try:
                tree[table][name] = coerce(key, raw)
            except SettingsError as problem:
                problems.append(problem)
    if cross:
        problems.extend(cross_checks(tree))
    return tree, problems


def cross_checks(tree: Mapping[str, Mapping[str, object]]) -> list[SettingsError]:
    """The rules that span keys, on coerced values: plain http only to this
    machine unless allowed, by the rule the API client enforces (``is_loopback``)."""
    api = tree["api"]
    parts = urlsplit(str(api["url"]))
    unallowed_http = parts.scheme == "http" and not api["allow_insecure_http"]
    if not unallowed_http or is_loopback(parts.hostname or ""):
        return []
    return [
        SettingsError(
            "api.url uses plain http://, which would send your PIN unencrypted",
            key="api.url",
            hint="use https:// or set allow_insecure_http = true",
        )
    ]


def validate(
    data: Mapping[str, Any], *, path: object | None = None, text: str | None = None
) -> list[SettingsError]:
    """Every problem in settings ``data`` (TOML-shaped: tables of plain values).

    Each problem has ``.key`` (dotted), ``.detail`` for inline display and, when
    the file ``text`` is given, ``.line``. An empty list means the data is valid.
    Missing keys are fine: they take their defaults.
    """
    return locate(check_tree(data)[1], path, text)


def build(tree: Mapping[str, Mapping[str, object]], overrides: Mapping[str, Override]) -> Settings:
    """Settings from a coerced tree (the output of ``check_tree``)."""
    sections = {section: cls(**tree[section]) for section, cls in SECTIONS.items()}
    return Settings(**sections, keymap=dict(tree[KEYMAP]), overrides=overrides)


def raise_first(problems: list[SettingsError]) -> None:
    """Raise the first problem (by line, then order), carrying all of them."""
    if problems:
        ordered = sorted(problems, key=lambda problem: (problem.line is None, problem.line or 0))
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
    raise_first(problems)
    return build(tree, base.overrides if base is not None else {})


def settings_to_dict(settings: Settings) -> dict[str, dict[str, Any]]:
    """A plain dict of every setting, shaped like the TOML file (password included)."""
    data: dict[str, dict[str, Any]] = {}
    for section in SECTIONS:
        values = getattr(settings, section)
        data[section] = {
            field.name: getattr(values, field.name)
            for field in FIELDS.values()
            if field.section == section
        }
    data[KEYMAP] = dict(settings.keymap)
    return data


def keymap_warnings(settings: Settings, binding_ids: Iterable[str], path: Path) -> list[str]:
    """A sentence for each `[keymap]` entry that names no binding (with its line
    in the file at `path` and the closest id): such an entry changes nothing."""
    known = list(binding_ids)
    unknown = [name for name in settings.keymap if name not in known]
    if not unknown:
        return []
    try:
        text: str | None = path.read_text("utf-8")
    except (OSError, UnicodeError):
        text = None
    problems = [
        SettingsError(
            f"keymap.{name} names no key binding, so it changes nothing",
            key=f"keymap.{name}",
            hint=did_you_mean(name, known) or "the help screen (?) lists the binding ids",
        )
        for name in unknown
    ]
    return [str(problem) for problem in locate(problems, path, text)]
