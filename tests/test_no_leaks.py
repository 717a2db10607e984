"""The PIN leaks nowhere, private files are private, plain HTTP is refused.

A full session with a distinctive PIN: a wrong PIN first (login failed), the
right one saved in the settings screen, refresh, filter, an unlock of every
outcome (done, 404, 403, 428, 502 and 503 waiting, unsupported, reused), copy
and export. Then everything written is searched for the PIN, raw, URL-encoded
and in base64: every file under the config (but config.toml), data and cache
directories, the exports, every log record at DEBUG, the notifications, and
the bytes the real program wrote to a terminal in a pty session of the same
flows.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from deck import settle, wait_for
from ptyrun import PtyRun
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Static
from tlsemulator import write_ca

from tui.app import LinkdeckApp
from tui.cli import main
from tui.core import Connection, Profile
from tui.emulator import AccountSpec, Emulator, default_scenario
from tui.screens.settings_form import SettingsScreen
from tui.settings import Settings, load_settings

LOGIN, PIN, WRONG_PIN = "123456789", "7319Zq+/x", "0000"
DONE = "https://uploaded.net/file/abcd1234/holiday.zip"
LINKS = [
    DONE,
    "https://uploaded.net/file/abcd2345/missing/gone.zip",  # 404
    "https://uploaded.net/file/abcd2346/forbidden/no.zip",  # 403
    "https://share-online.biz/dl/ABCDEF123456",  # 428
    "https://uploaded.net/file/abcd2347/broken/x.zip",  # 502, waiting
    "https://uploaded.net/file/abcd3456/busy/later.zip",  # 503, waiting
    "https://example.com/files/nobody-serves-this.zip",  # unsupported
]


def forms(secret: str) -> set[bytes]:
    """The PIN as it may be written: raw, URL-encoded, base64 (OSC 52, headers)."""
    texts = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}
    raw = secret.encode()
    encoded = {base64.b64encode(raw), base64.urlsafe_b64encode(raw)}
    # base64 of a longer text holding the PIN, at each of the three alignments:
    # the 8 characters that depend on the PIN's bytes alone.
    for skip in (0, 1, 2):
        start = -(-8 * skip // 6)
        encoded.add(base64.b64encode(b"ab"[:skip] + raw)[start : start + 8])
    return {t.encode() for t in texts} | encoded


def leaks(data: bytes) -> list[bytes]:
    return [form for form in forms(PIN) if form in data]


def serving(tls: bool) -> Emulator:
    scenario = default_scenario()
    scenario.accounts = [AccountSpec(LOGIN, PIN, "premium", expires_in_days=30, fairuse_left=0.8)]
    return Emulator(scenario, tls=tls)


@pytest.fixture(params=[False, True], ids=["http", "https"])
def emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """The service over loopback HTTP, and over HTTPS as real users reach it."""
    with serving(request.param) as emu:
        yield emu


@pytest.fixture
def http_emulator() -> Iterator[Emulator]:
    with serving(False) as emu:
        yield emu


def trusted_ca(emulator: Emulator, folder: Path) -> str:
    """The CA file to trust for `emulator` ("" over plain HTTP)."""
    return str(write_ca(emulator, folder)) if emulator.tls else ""


def written_files(*roots: Path) -> dict[Path, bytes]:
    return {
        path: path.read_bytes()
        for root in roots
        if root.exists()
        for path in root.rglob("*")
        if path.is_file() and path.name != "config.toml"
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def queue(pilot: Pilot[Any], app: LinkdeckApp, *links: str) -> None:
    await pilot.press("u")
    app.post_message(events.Paste("\n".join(links)))
    await pilot.pause()
    await pilot.press("enter")
    await settle(pilot, app)


async def test_a_full_session_leaks_the_pin_nowhere(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings()
    api = replace(
        settings.api,
        url=emulator.url,
        login=LOGIN,
        password=WRONG_PIN,
        ca_file=trusted_ca(emulator, tmp_path),
    )
    config = tmp_path / "config" / "config.toml"
    profile = Profile(replace(settings, api=api), config, tmp_path / "data", tmp_path / "cache")
    app = LinkdeckApp(profile)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app, account=False, hosters=False)
        assert app.dashboard.account.connection is Connection.LOGIN_FAILED
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        pin_input = screen._rows["api.password"].control
        assert isinstance(pin_input, Input) and pin_input.password
        pin_input.value = PIN
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is not screen)
        await settle(pilot, app)
        assert mode(config) == 0o600
        assert load_settings(config).settings.api.password == PIN

        await pilot.press("r")
        await pilot.press("2", "slash")
        app.focused.value = "upl"  # type: ignore[union-attr]
        await pilot.press("escape", "escape")  # clear the filter, then leave it
        await queue(pilot, app, *LINKS)
        await queue(pilot, app, DONE)  # reused from the history
        assert app.session.engine is not None
        states = sorted(
            {(i.state.value, i.status, i.reused) for i in app.session.engine.items.values()}
        )
        assert states == [
            ("done", 200, False),
            ("done", 200, True),
            ("failed", 403, False),
            ("failed", 404, False),
            ("failed", 428, False),
            ("unsupported", None, False),
            ("waiting", 502, False),
            ("waiting", 503, False),
        ]
        await pilot.press("escape", "3", "home", "c")  # copy the first, done link
        assert app.clipboard.startswith(f"{emulator.base_url}/dl/")
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#export-folder", Input).value = str(tmp_path / "data" / "exports")
        await pilot.press("enter")
        await wait_for(pilot, lambda: (tmp_path / "data" / "exports").exists())
        notes = "\n".join(n.message for n in app._notifications)
    exports = list((tmp_path / "data" / "exports").iterdir())
    assert len(exports) == 2
    assert DONE in exports[0].read_text() + exports[1].read_text()

    files = written_files(tmp_path / "config", tmp_path / "data", tmp_path / "cache")
    assert tmp_path / "data" / "history.sqlite3" in files
    assert any(path.name.startswith("hosters-") for path in files)
    for path, data in files.items():
        assert not leaks(data), f"{path} holds the PIN"
    for path in (tmp_path / "data").glob("history.sqlite3*"):
        assert mode(path) == 0o600, path
    for path in exports:
        assert mode(path) == 0o600, path
    records = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
    )
    assert any(r.name == "httpx" for r in caplog.records)  # requests were logged, redacted
    assert not leaks(records.encode()), records
    assert not leaks(notes.encode()), notes
    assert not leaks(app.clipboard.encode())


def test_the_terminal_stream_holds_no_pin(emulator: Emulator, tmp_path: Path) -> None:
    """The real program in a pty, the PIN from LINKDECK_PASSWORD: start,
    refresh, filter, unlock every outcome, copy (OSC 52), export, the settings
    screen (its PIN field), quit. No form of the PIN in the bytes it wrote."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKDECK_")}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[name] = str(tmp_path / name.lower())
    env["LINKDECK_PASSWORD"] = PIN
    config = tmp_path / "xdg_config_home" / "linkdeck" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[api]\nca_file = "{trusted_ca(emulator, tmp_path)}"\n')
    config.chmod(0o600)
    args = ["--api-url", emulator.url, "--login", LOGIN]
    with PtyRun(args, env) as run:
        run.wait_for(b"refreshed", 20)
        run.send("r")
        run.send("/")
        run.send("upl")
        run.send("\x1b", 0.5)  # clear the filter
        run.back_to_dashboard()  # and leave it
        run.send("u")
        run.send("\x1b[200~" + "\n".join(LINKS) + "\x1b[201~")
        run.send("\r")
        run.wait_for(b"Queued 7 link")
        run.back_to_dashboard()
        run.send("\x1b[H")  # home: the done link
        run.send("c")
        run.send("e")
        run.wait_for(b"Escape cancels")
        run.send("\x15")  # ctrl+u: the folder offered is cleared
        run.send(str(tmp_path / "xdg_data_home" / "exports"))
        run.send("\r")
        run.wait_for(b"Exported")
        run.send("s")
        run.wait_for(b"Test connection")
        run.back_to_dashboard()
        assert run.quit() == 0
    out = bytes(run.output)
    assert b"\x1b]52;c;" in out  # the copy went out
    assert not leaks(out), leaks(out)
    files = written_files(*(tmp_path / n for n in ("xdg_config_home", "xdg_data_home")))
    files |= written_files(tmp_path / "xdg_cache_home", tmp_path / "xdg_state_home")
    assert files
    for path, data in files.items():
        assert not leaks(data), f"{path} holds the PIN"


# --- file modes and warnings ------------------------------------------------


def readable_config(tmp_path: Path, emulator: Emulator) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[api]\nurl = "{emulator.url}"\nlogin = "{LOGIN}"\npassword = "{PIN}"\n')
    config.chmod(0o644)
    return config


async def test_a_config_readable_by_others_is_warned_about_on_screen(
    http_emulator: Emulator, tmp_path: Path
) -> None:
    config = readable_config(tmp_path, http_emulator)
    loaded = load_settings(config, {})
    profile = Profile(loaded.settings, config, tmp_path / "d", tmp_path / "c", loaded.warnings)
    app = LinkdeckApp(profile)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        shown = [n.message for n in app._notifications]
        assert any("readable by others" in m and "chmod 600" in m for m in shown), shown


def test_a_config_readable_by_others_is_warned_about_on_stderr(
    http_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = readable_config(tmp_path, http_emulator)
    assert main(["status", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "warning: config file" in err and "readable by others" in err
    assert not leaks(err.encode())


REMOTE = "http://192.0.2.1/pm-api/v1.php"  # TEST-NET-1: never contacted
WHY = re.compile(r"anyone on the way could read it|would send your PIN unencrypted")


async def test_plain_http_to_a_remote_host_is_refused_on_screen(tmp_path: Path) -> None:
    settings = Settings()
    api = replace(settings.api, url=REMOTE, login=LOGIN, password=PIN)
    profile = Profile(replace(settings, api=api), tmp_path / "c.toml", tmp_path, tmp_path)
    app = LinkdeckApp(profile)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app, account=False, hosters=False)
        panel = app.query_one("#account-connection", Static)
        assert "refusing to send the PIN over plain http" in str(panel.content)
        shown = [n.message for n in app._notifications]
        assert any(WHY.search(m) for m in shown), shown


def test_plain_http_to_a_remote_host_is_refused_by_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINKDECK_PASSWORD", PIN)
    for command in ("status", "hosters"):
        assert main([command, "--api-url", REMOTE, "--login", LOGIN]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and WHY.search(err), err
        assert not leaks(err.encode())
