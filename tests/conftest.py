"""Shared fixtures: an isolated environment, the emulator, profiles, a fixed clock.
The helpers the dashboard tests share (`settle`, `wait_for`) are in deck.py."""

from __future__ import annotations

import os
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
