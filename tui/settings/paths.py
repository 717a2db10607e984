"""Where linkdeck keeps its files: config, data (history database), cache and
state (the log file).

On Linux and other XDG systems the ``XDG_*_HOME`` variables are read from the
``env`` mapping passed in (default ``os.environ``) with the same rules as
platformdirs, so callers and tests can pass their own environment without
touching ``os.environ``. Elsewhere platformdirs decides.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import platformdirs

__all__ = [
    "APP_NAME",
    "CONFIG_ENV",
    "cache_dir",
    "config_path",
    "data_dir",
    "download_dir",
    "state_dir",
]

APP_NAME = "linkdeck"
CONFIG_ENV = "LINKDECK_CONFIG"
CONFIG_NAME = "config.toml"

_XDG = {
    "config": ("XDG_CONFIG_HOME", ".config"),
    "data": ("XDG_DATA_HOME", ".local/share"),
    "cache": ("XDG_CACHE_HOME", ".cache"),
    "state": ("XDG_STATE_HOME", ".local/state"),
}


def _uses_xdg() -> bool:
    # platformdirs uses its Unix (XDG) backend everywhere but Windows and macOS.
    return not (sys.platform.startswith("win") or sys.platform == "darwin")


def _user_dir(kind: str, env: Mapping[str, str]) -> Path:
    if env is os.environ or not _uses_xdg():
        return getattr(platformdirs, f"user_{kind}_path")(APP_NAME)
    var, default = _XDG[kind]
    base = env.get(var, "")
    if base.strip():
        return Path(base).expanduser() / APP_NAME
    home = env.get("HOME") or str(Path.home())
    return Path(home) / default / APP_NAME


def config_path(
    explicit: str | os.PathLike[str] | None = None, env: Mapping[str, str] = os.environ
) -> Path:
    """The config file: ``explicit`` (``--config``), else ``$LINKDECK_CONFIG``, else
    ``config.toml`` in the user config directory (``$XDG_CONFIG_HOME/linkdeck``)."""
    if explicit is not None and os.fspath(explicit):
        return Path(explicit).expanduser()
    from_env = env.get(CONFIG_ENV, "")
    if from_env:
        return Path(from_env).expanduser()
    return _user_dir("config", env) / CONFIG_NAME


def data_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The user data directory (``$XDG_DATA_HOME/linkdeck``): unlock history."""
    return _user_dir("data", env)


def cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The user cache directory (``$XDG_CACHE_HOME/linkdeck``): the hoster list."""
    return _user_dir("cache", env)


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The user state directory (``$XDG_STATE_HOME/linkdeck``): the log file."""
    return _user_dir("state", env)


def download_dir(configured: str) -> Path:
    """Where downloads go: ``[download] dir`` (``~`` expanded), else the user's
    download folder as platformdirs knows it (``~/Downloads``, or XDG's)."""
    if configured:
        return Path(configured).expanduser()
    return platformdirs.user_downloads_path()
