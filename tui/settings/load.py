"""Reading the config file, applying environment and command-line overrides."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .coerce import coerce
from .lines import locate
from .model import Override, Settings, SettingsError
from .validate import Tree, build, check_tree, cross_checks, raise_first

__all__ = ["ENV_OVERRIDES", "LoadResult", "load_settings", "read_toml"]

#: Environment variable -> dotted key. Applied over the file; empty values are ignored.
ENV_OVERRIDES: Mapping[str, str] = {
    "LINKDECK_API_URL": "api.url",
    "LINKDECK_LOGIN": "api.login",
    "LINKDECK_PASSWORD": "api.password",
    "LINKDECK_ARIA2_SECRET": "aria2.secret",
}
CLI_SOURCE = "command line"
MAX_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True)
class LoadResult:
    """What ``load_settings`` found."""

    settings: Settings
    """The effective settings: file, then environment, then command line."""
    path: Path
    """The config file that was read (or would be, when missing)."""
    exists: bool
    """False when there was no file and the settings are defaults plus overrides."""
    warnings: tuple[str, ...] = ()
    """Things the user should fix but that do not stop linkdeck, e.g. file mode."""


def _read_error(path: Path, what: str) -> SettingsError:
    return SettingsError(f"cannot read the settings file: {what}", path=path)


def _os_reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


def read_toml(path: Path) -> tuple[str, dict[str, Any], int, int] | None:
    """Read and parse a TOML file: ``(text, data, mode, owner uid)``, or ``None`` if it
    does not exist.

    Raises ``SettingsError`` for an unreadable file or a syntax error (with its line).
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise _read_error(path, "a parent of it is not a directory") from None
    except OSError as error:
        raise _read_error(path, _os_reason(error)) from None
    if stat.S_ISDIR(status.st_mode):
        raise SettingsError("is a directory, not a settings file", path=path)
    if not stat.S_ISREG(status.st_mode):
        raise SettingsError("is not a regular file", path=path)
    if status.st_size > MAX_CONFIG_BYTES:
        raise SettingsError("is too large to be a settings file", path=path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
            opened = os.fstat(fh.fileno())
    except PermissionError:
        raise _read_error(path, "permission denied (check its owner and mode)") from None
    except OSError as error:
        raise _read_error(path, _os_reason(error)) from None
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SettingsError("is not UTF-8 text", path=path, line=line) from None
    return text, parse_toml(text, path), stat.S_IMODE(opened.st_mode), opened.st_uid


_POSITION = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)\s*$")


def parse_toml(text: str, path: object | None = None) -> dict[str, Any]:
    """``tomllib.loads`` with a syntax error turned into a located ``SettingsError``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _POSITION.search(message)
        if position:
            found_line = position.group(1)
            line = int(found_line) if found_line else max(1, len(text.splitlines()))
            message = message[: position.start()]
        else:
            line = None
        reason = f"is not valid TOML: {message[:1].lower()}{message[1:]}"
        raise SettingsError(reason, path=path, line=line) from None
    except ValueError:  # tomllib's int() of more than 4300 digits
        raise SettingsError("is not valid TOML: a number has too many digits", path=path) from None


def _set_by(problem: SettingsError, source: str) -> SettingsError:
    """``problem`` of a value from the environment or the command line: it names
    where the value came from instead of a line of the file."""
    return SettingsError(f"{problem.reason} (set by {source})", key=problem.key, hint=problem.hint)


def _apply(tree: Tree, applied: dict[str, Override], key: str, raw: object, source: str) -> None:
    try:
        value = coerce(key, raw, from_text=True)
    except SettingsError as problem:
        raise _set_by(problem, source) from None
    section, _, name = key.partition(".")
    before = applied.get(key)
    file_value = before.file_value if before else tree[section].get(name)
    tree[section][name] = value
    applied[key] = Override(source=source, value=value, file_value=file_value)


def _mode_warning(path: Path, mode: int, has_password: bool) -> str | None:
    if os.name == "nt" or not mode & 0o077:
        return None
    fix = f"run chmod 600 {path}"
    if mode & 0o044:
        holds = "it holds your PIN" if has_password else "it can hold your PIN"
        return f"config file {path} is readable by others (mode {mode:04o}); {holds}: {fix}"
    return (
        f"config file {path} is writable by others (mode {mode:04o}); "
        f"they could change where your PIN is sent: {fix}"
    )


def _owner_warning(path: Path, owner: int) -> str | None:
    # As ssh does: a file of root's or of your own, nobody else's.
    if os.name == "nt" or owner in (0, os.getuid()):
        return None
    return (
        f"config file {path} is owned by another user (uid {owner}), "
        "who could change where your PIN is sent: use a file of your own"
    )


def load_settings(
    path: Path,
    env: Mapping[str, str] = os.environ,
    overrides: Mapping[str, object] | None = None,
) -> LoadResult:
    """Load settings: defaults, then the TOML file at ``path`` (if any), then the
    environment (``ENV_OVERRIDES``: ``LINKDECK_API_URL``, ``LINKDECK_LOGIN``,
    ``LINKDECK_PASSWORD``, ``LINKDECK_ARIA2_SECRET``),
    then ``overrides`` (dotted keys from command-line flags, e.g. ``"api.url"``;
    ``None`` values are skipped; text is parsed for non-text settings).

    Raises ``SettingsError`` with file, key and line for the first problem
    (every problem in ``.problems``). A missing file is not an error.
    """
    path = Path(path)
    found = read_toml(path)
    text, data, mode, owner = found if found is not None else (None, {}, 0, 0)
    tree, problems = check_tree(data, cross=False)
    raise_first(locate(problems, path, text))
    has_file_password = bool(tree["api"]["password"])

    applied: dict[str, Override] = {}
    for variable, key in ENV_OVERRIDES.items():
        value = env.get(variable)
        if value:
            _apply(tree, applied, key, value, variable)
    for key, value in (overrides or {}).items():
        if value is not None:
            _apply(tree, applied, key, value, CLI_SOURCE)

    across_keys = cross_checks(tree)
    in_file = [problem for problem in across_keys if problem.key not in applied]
    overridden = [
        _set_by(problem, applied[problem.key].source)
        for problem in across_keys
        if problem.key in applied
    ]
    raise_first([*locate(in_file, path, text), *overridden])

    settings = build(tree, applied)
    warnings: list[str] = []
    if found is not None:
        for warning in (
            _owner_warning(path, owner),
            _mode_warning(path, mode, has_file_password),
        ):
            if warning:
                warnings.append(warning)
    if settings.api.password and settings.api.password_command:
        warnings.append("api.password and api.password_command are both set; the password is used")
    return LoadResult(
        settings=settings, path=path, exists=found is not None, warnings=tuple(warnings)
    )
