"""Settings files under stress: a config that does not parse, has wrong types, is
unreadable, sits in a read-only directory or cannot be written (disk full).

Each gives a clear error, leaves the original file byte for byte, and loses
nothing the user typed in the settings screen. Tests run as root here, which
reads and writes anything: unreadable and read-only are simulated honestly, with
a directory or a FIFO where the file should be, or OSError raised by a patched
os function (tests/test_settings.py covers the same at the API level).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from commandline import isolated_env, one_sentence
from deck import wait_for
from textual.widgets import Input, Static

from tui.app import LinkdeckApp
from tui.commands.common import defaults_profile, profile_of
from tui.emulator import Emulator
from tui.screens.settings_form import SettingsScreen
from tui.settings import SettingsError
from tui.unlock import FakeClock

WRONG_TYPE = '[api]\nlogin = "111111111"\n\n[unlock]\nconcurrency = "four"\n'
NOT_TOML = '[api]\nlogin = "111111111"\nurl = \n'


def status_with(tmp_path: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", "status", "--config", str(config)],
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
    )


def write(path: Path, text: str) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path.read_bytes()


# --- the CLI: exit 2, one sentence with file, key and line -------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (NOT_TOML, ["is not valid TOML", "(line 3)"]),
        (WRONG_TYPE, ["unlock.concurrency", "(line 5)"]),
        ("[unlock]\nconcurrency = " + "9" * 5000, ["is not valid TOML", "too many digits"]),
    ],
    ids=["does-not-parse", "wrong-type", "too-many-digits"],
)
def test_status_with_a_bad_config_exits_2(tmp_path: Path, text: str, words: list[str]) -> None:
    config = tmp_path / "bad.toml"
    before = write(config, text)
    line = one_sentence(status_with(tmp_path, config), 2)
    assert line.startswith(f"linkdeck: {config}: ")
    for word in words:
        assert word in line, line
    assert config.read_bytes() == before


def test_status_with_a_directory_as_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.mkdir()
    line = one_sentence(status_with(tmp_path, config), 2)
    assert line == f"linkdeck: {config}: is a directory, not a settings file"


def test_status_with_a_fifo_as_config_exits_2_without_hanging(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    os.mkfifo(config)  # opening it to read would block until a writer came
    line = one_sentence(status_with(tmp_path, config), 2)
    assert line == f"linkdeck: {config}: is not a regular file"


# --- the settings screen: a failed save keeps the form and the file -----------------


def deny_create(code: int) -> Callable[..., Any]:
    """os.open refusing to create a file, as a read-only or foreign directory does."""
    real_open = os.open

    def fake(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)

    return fake


def disk_full(*args: Any, **kwargs: Any) -> Any:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


FAILURES = {
    "read-only file system": ("open", deny_create(errno.EROFS), "the file system is read-only"),
    "permission denied": ("open", deny_create(errno.EACCES), "permission denied"),
    "disk full on write": ("write", disk_full, "the disk is full"),
    "disk full on fsync": ("fsync", disk_full, "the disk is full"),
}


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_failed_save_keeps_the_form_and_the_file(
    failure: str,
    emulator: Emulator,
    make_profile,
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, fake, reason = FAILURES[failure]
    profile = make_profile(emulator)
    original = write(profile.config_path, f'[api]\nurl = "{emulator.url}"\nlogin = "111111111"\n')
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        typed = {"#setting-unlock-concurrency": "7", "#setting-api-timeout": "3.5"}
        for selector, value in typed.items():
            screen.query_one(selector, Input).value = value
        await pilot.pause()

        monkeypatch.setattr(os, name, fake)
        await pilot.press("ctrl+s")
        status = screen.query_one("#settings-status", Static)
        await wait_for(pilot, lambda: "Not saved" in str(status.visual))
        monkeypatch.undo()
        shown = str(status.visual)
        assert reason in shown and "the file was left unchanged" in shown, shown
        assert str(profile.config_path) in shown
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and reason in errors[-1].message
        # Nothing typed is lost: the screen is still open with the values.
        assert app.screen is screen
        for selector, value in typed.items():
            assert screen.query_one(selector, Input).value == value
        assert profile.config_path.read_bytes() == original
        assert os.listdir(profile.config_path.parent) == ["config.toml"]  # no temporary file

        # Once the disk has room again, the same form saves.
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is not screen)
    saved = profile.config_path.read_text()
    assert "concurrency = 7" in saved and "timeout = 3.5" in saved


# --- the dashboard on a config it cannot use ----------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (NOT_TOML, ["is not valid TOML", "(line 3)"]),
        (WRONG_TYPE, ["unlock.concurrency", "(line 5)"]),
    ],
    ids=["does-not-parse", "wrong-type"],
)
async def test_dashboard_on_a_bad_config_shows_it_and_keeps_the_file(
    tmp_path: Path, fake_clock: FakeClock, text: str, words: list[str]
) -> None:
    import argparse

    config = tmp_path / "config.toml"
    before = write(config, text)
    args = argparse.Namespace(config=str(config), demo=False)
    env = {**os.environ}
    # As tui/commands/dashboard.py does: the profile fails, the fallback opens.
    with pytest.raises(SettingsError) as caught, profile_of(args, env):
        pass
    profile = defaults_profile(args, caught.value, env)
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        errors = [n for n in app._notifications if n.severity == "error"]
        assert len(errors) == 1
        message = errors[0].message
        assert str(config) in message and "left as it is" in message
        for word in words:
            assert word in message, message
        # Defaults are not usable: the settings open, and saving them must not
        # replace the user's file (the values it holds would be lost).
        screen = app.screen
        assert isinstance(screen, SettingsScreen) and screen.first_run
        screen.query_one("#setting-api-url", Input).value = "https://api.example.com/v1.php"
        screen.query_one("#setting-api-login", Input).value = "111111111"
        screen.query_one("#setting-api-password", Input).value = "1111"
        await pilot.press("ctrl+s")
        status = screen.query_one("#settings-status", Static)
        await wait_for(pilot, lambda: "Not saved" in str(status.visual))
        assert "refusing to overwrite" in str(status.visual)
        assert app.screen is screen
        assert screen.query_one("#setting-api-login", Input).value == "111111111"
    assert config.read_bytes() == before
