"""Finding the line of the config file where a key is set, so that a problem
can cite it: the one place every message about the file gets its line from."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .model import SettingsError

__all__ = ["find_line", "locate"]

_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")


def _header_name(header: str) -> str:
    return re.sub(r"[\s\"']", "", header)


def _key_pattern(name: str) -> re.Pattern[str]:
    escaped = re.escape(name)
    return re.compile(rf"^\s*(?:{escaped}|\"{escaped}\"|'{escaped}')\s*=")


def find_line(text: str, key: str) -> int | None:
    """The 1-based line where dotted ``key`` (or a table name) is set in TOML ``text``.

    A best-effort scan, good for the usual ``[table]`` / ``key = value`` layout;
    falls back to ``table.key =`` and inline tables, then ``None``.
    """
    table, dot, name = key.partition(".")
    lines = text.splitlines()
    current = ""
    wanted = _key_pattern(name) if dot else None
    for number, line in enumerate(lines, 1):
        header = _HEADER.match(line)
        if header:
            current = _header_name(header.group(1))
            if not dot and current == table:
                return number
            continue
        if wanted is not None and current == table and wanted.match(line):
            return number
        if not dot and current == "" and _key_pattern(table).match(line):
            return number
    # Dotted keys (``unlock.concurrency = 3``) or inline tables (``unlock = {concurrency = 3}``).
    table_part, name_part = re.escape(table), re.escape(name)
    if dot:
        dotted = rf"^\s*{table_part}\s*\.\s*{name_part}\s*="
        inline = rf"^\s*{table_part}\s*=.*[{{,]\s*{name_part}\s*="
        fallback = re.compile(f"{dotted}|{inline}")
    else:
        fallback = re.compile(rf"^\s*{table_part}\s*[.=]")
    for number, line in enumerate(lines, 1):
        if fallback.search(line):
            return number
    return None


def locate(
    problems: Iterable[SettingsError], path: object | None, text: str | None
) -> list[SettingsError]:
    """``problems`` as found in the file at ``path`` whose ``text`` is given
    (``None`` when there is no file): each with the path and its key's line."""
    return [
        problem.located(
            path, find_line(text, problem.key) if text is not None and problem.key else None
        )
        for problem in problems
    ]
