"""Writing settings to TOML: atomically, mode 0600, never over a broken file."""

from __future__ import annotations

import errno
import os
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from tui.safe_files import replace_file

from .lines import locate
from .model import FIELDS, SECTIONS, Settings, SettingsError
from .validate import check_tree, raise_first, settings_to_dict, validate

__all__ = ["render_toml", "save_settings"]

_HEADER = """\
# linkdeck settings, written by linkdeck (comments you add here are not kept).
# This file can hold your PIN and aria2's secret: keep it private (chmod 600).
"""

_TITLES = {
    "api": "API access. LINKDECK_API_URL, LINKDECK_LOGIN and LINKDECK_PASSWORD override these.",
    "refresh": "Automatic refresh (seconds).",
    "unlock": "The unlock queue and its retry policy (delays in seconds).",
    "warnings": "When to warn about the account.",
    "ui": "Look and input.",
    "notify": "When every link of a batch has ended: the bell, a desktop notification.",
    "download": "Downloads: where to, what downloads, how fast (rate_limit in bytes per second).",
    "aria2": "aria2 as the download engine. LINKDECK_ARIA2_SECRET overrides secret.",
    "keymap": 'Key bindings by binding id, e.g. copy-link = "ctrl+y" (the help lists the ids).',
}


def render_toml(data: dict[str, dict[str, Any]]) -> str:
    """The TOML text for a settings dict: every table, each key after its help line."""
    parts = [_HEADER]
    for section in (*SECTIONS, "keymap"):
        parts.append(f"\n# {_TITLES[section]}\n[{section}]\n")
        for name, value in data[section].items():
            field = FIELDS.get(f"{section}.{name}")
            if field is not None:
                parts.append(f"# {field.help}\n")
            parts.append(tomli_w.dumps({name: value}))
    return "".join(parts)


def _persisted(settings: Settings) -> dict[str, dict[str, Any]]:
    """The settings dict to write: overrides still at their overriding value are
    replaced by what the file had, so e.g. ``LINKDECK_PASSWORD`` never reaches disk."""
    data = settings_to_dict(settings)
    for key, override in settings.overrides.items():
        section, _, name = key.partition(".")
        if data[section].get(name) == override.value:
            if override.file_value is None:
                data[section].pop(name, None)
            else:
                data[section][name] = override.file_value
    return data


_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.ENOTDIR: "a parent of it is not a directory",
    errno.EISDIR: "it is a directory",
}


def _save_error(path: Path, error: OSError) -> SettingsError:
    why = _REASONS.get(error.errno or 0) or (error.strerror or type(error).__name__).lower()
    return SettingsError(f"cannot save settings: {why}; the file was left unchanged", path=path)


def _check_existing(path: Path) -> None:
    """Refuse to replace a file that is not a TOML file we could have written."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise SettingsError("cannot save settings: it is a directory", path=path) from None
    except OSError as error:
        raise _save_error(path, error) from None
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
        data = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        raise SettingsError(
            "refusing to overwrite a settings file that does not parse; fix or move it first",
            path=path,
        ) from None
    # A file that parses but does not load (a wrong type, an unknown key) was never
    # read: the form holds defaults, and writing it would lose the file's values.
    problems = locate(check_tree(data, cross=False)[1], None, text)
    if problems:
        first = problems[0]
        where = f" at line {first.line}" if first.line is not None else ""
        raise SettingsError(
            f"refusing to overwrite a settings file with an error{where} "
            f"({first.detail}); fix or move it first",
            path=path,
        )


def _atomic_write(path: Path, data: bytes) -> None:
    try:
        Path(os.path.realpath(path)).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        replace_file(path, data, 0o600)
    except OSError as error:
        raise _save_error(path, error) from None


def save_settings(settings: Settings, path: Path) -> None:
    """Write ``settings`` to ``path`` as TOML, atomically and with mode 0600.

    Every table and key is written with its help line. A setting still holding
    the value an environment variable or command-line flag gave it (see
    ``Settings.overrides``) is written with its value from the file instead, so
    ``LINKDECK_PASSWORD`` and ``--login`` are never persisted unless the user
    changed them. The parent directory is created with mode 0700 if missing.

    Raises ``SettingsError`` if the settings are invalid, if the existing file
    does not parse as TOML (it is never overwritten), or on any OS error (the
    temporary file is removed and the original left as it was).
    """
    path = Path(path)
    data = _persisted(settings)
    raise_first(validate(data))
    text = render_toml(data)
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        raise SettingsError("cannot save settings: a value is not valid Unicode text") from None
    if tomllib.loads(text) != data:  # pragma: no cover - a bug in render_toml
        raise SettingsError("cannot save settings: they do not survive a round trip")
    _check_existing(path)
    _atomic_write(path, encoded)
