"""Shared fixtures: an isolated environment, the emulator, profiles, a fixed clock.
The helpers the dashboard tests share (`settle`, `wait_for`) are in deck.py.

For the whole run, HOME and every XDG directory point into a temporary folder
(set before any test module is imported, so subprocesses and xdist's workers
inherit them), and the run fails if linkdeck's folders in the user's real
config, data, cache or state directories changed meanwhile."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from deck import FIXED_NOW, PREMIUM_LOGIN, PREMIUM_PIN

from tui.core import Profile
from tui.emulator import Emulator
from tui.settings import Settings
from tui.unlock import FakeClock

USER_FOLDERS = {
    "XDG_CONFIG_HOME": ".config",
    "XDG_DATA_HOME": ".local/share",
    "XDG_CACHE_HOME": ".cache",
    "XDG_STATE_HOME": ".local/state",
}
REAL_FOLDERS = pytest.StashKey[tuple[list[Path], dict[str, tuple[int, int]], Path]]()


def linkdeck_folders(env: dict[str, str] | os._Environ[str]) -> list[Path]:
    """linkdeck's folder in each of the user's XDG directories, as `env` names them."""
    home = Path(env.get("HOME") or Path.home())
    return [
        (Path(env[var]) if env.get(var, "").strip() else home / default) / "linkdeck"
        for var, default in USER_FOLDERS.items()
    ]


def fingerprint(folders: list[Path]) -> dict[str, tuple[int, int]]:
    """Every path under `folders` with its modification time and size."""
    found: dict[str, tuple[int, int]] = {}
    for folder in folders:
        for path in [folder, *folder.rglob("*")] if folder.exists() else []:
            info = path.lstat()
            found[str(path)] = (info.st_mtime_ns, info.st_size)
    return found


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller set the environment it inherited
    real = linkdeck_folders(os.environ)
    root = Path(tempfile.mkdtemp(prefix="linkdeck-tests-"))
    config.stash[REAL_FOLDERS] = (real, fingerprint(real), root)
    os.environ["HOME"] = str(root / "home")
    for var in USER_FOLDERS:
        os.environ[var] = str(root / var.lower())


def pytest_sessionfinish(session: pytest.Session) -> None:
    if REAL_FOLDERS not in session.config.stash:
        return
    real, before, root = session.config.stash[REAL_FOLDERS]
    shutil.rmtree(root, ignore_errors=True)
    after = fingerprint(real)
    changed = sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )
    if changed:
        session.config.get_terminal_writer().line(
            "The run wrote into the user's own linkdeck folders: " + ", ".join(changed), red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """UTC times, XDG dirs in a temporary directory, no LINKDECK_* variable:
    no test reads or writes the user's real config, history or cache."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    root = tmp_path_factory.mktemp("xdg")
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        folder = root / name.split("_")[1].lower()
        folder.mkdir()
        monkeypatch.setenv(name, str(folder))
    for name in list(os.environ):
        if name.startswith("LINKDECK_"):
            monkeypatch.delenv(name)
    yield
    # monkeypatch restores TZ after this fixture ends; re-read it then too.
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock(FIXED_NOW)


@pytest.fixture
def emulator(fake_clock: FakeClock) -> Iterator[Emulator]:
    """A started emulator on a free port whose clock is the test's fake clock."""
    with Emulator(clock=fake_clock.now) as emu:
        yield emu


@pytest.fixture
def make_profile(tmp_path: Path) -> Callable[..., Profile]:
    """`make_profile(emulator, login=..., pin=..., **overrides)`: a Profile whose
    settings point at `emulator`; `overrides` are `section=dict(...)` replacements
    (e.g. `unlock={"concurrency": 1}`) or `keymap={...}`. With `emulator=None`
    the settings are the defaults (a first run)."""

    def make(
        emulator: Emulator | None,
        login: str = PREMIUM_LOGIN,
        pin: str = PREMIUM_PIN,
        **overrides: Any,
    ) -> Profile:
        settings = Settings()
        if emulator is not None:
            api = replace(settings.api, url=emulator.url, login=login, password=pin)
            settings = replace(settings, api=api)
        for section, value in overrides.items():
            if isinstance(value, dict) and section != "keymap":
                value = replace(getattr(settings, section), **value)
            settings = replace(settings, **{section: value})
        return Profile(
            settings,
            config_path=tmp_path / "config" / "config.toml",
            data_dir=tmp_path / "data",
            cache_dir=tmp_path / "cache",
        )

    return make
