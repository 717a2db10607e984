"""The settings screen and first-run screen, driven with Pilot in a tiny host app.

The host stands in for LinkdeckApp (it only records what the screen closes with), so these
tests do not depend on the dashboard. "Test connection" runs against the
emulator over real loopback HTTP.
"""

from __future__ import annotations

import socket
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.theme import BUILTIN_THEMES
from textual.widgets import Collapsible, Input, Select, Static, Switch
from tlsemulator import write_ca

from tui.emulator import Emulator
from tui.screens.settings_form import SettingsScreen
from tui.settings import ApiSettings, Override, Settings, UiSettings, setting_fields
from tui.widgets.setting_row import SettingRow

SMALL, LARGE = (80, 24), (120, 40)
THEMES = sorted(BUILTIN_THEMES)
LOGIN, PIN = "111111111", "1111"


class Host(App[None]):
    """Pushes a SettingsScreen on mount and records what it is asked to apply."""

    def __init__(self, screen: SettingsScreen) -> None:
        super().__init__()
        self.settings_screen = screen
        self.dismissed_with: list[Settings | None] = []

    @property
    def applied(self) -> list[Settings]:
        """What the screen gave back to apply: the settings it saved."""
        return [settings for settings in self.dismissed_with if settings is not None]

    async def on_mount(self) -> None:
        await self.push_screen(self.settings_screen, self.dismissed_with.append)
        for field in self.settings_screen.query(Input):
            field.cursor_blink = False  # deterministic snapshots


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def host(settings: Settings, path: Path, *, first_run: bool = False) -> Host:
    return Host(SettingsScreen(settings, path, themes=THEMES, first_run=first_run))


def configured(url: str, password: str = PIN, **api: object) -> Settings:
    return Settings(api=ApiSettings(url=url, login=LOGIN, password=password, **api))


def row(app: Host, key: str) -> SettingRow:
    return next(r for r in app.settings_screen.query(SettingRow) if r.field.key == key)


def status(app: Host) -> str:
    return str(app.settings_screen.query_one("#settings-status", Static).visual)


async def type_into(pilot: Pilot, app: Host, key: str, text: str) -> None:
    """Focus the field of ``key`` and replace its text, as a paste would."""
    control = row(app, key).control
    assert isinstance(control, Input)
    control.focus()
    control.value = text
    await pilot.pause()


async def run_connection_test(pilot: Pilot, app: Host) -> None:
    await pilot.press("ctrl+t")
    await app.workers.wait_for_complete()
    await pilot.pause()


# --- the form -----------------------------------------------------------------


async def test_form_has_a_row_for_every_setting(tmp_path: Path) -> None:
    app = host(Settings(ui=UiSettings(theme="textual-light")), tmp_path / "c.toml")
    async with app.run_test(size=LARGE) as pilot:
        await pilot.pause()
        keys = [r.field.key for r in app.settings_screen.query(SettingRow)]
        assert keys == [f.key for f in setting_fields()]
        assert isinstance(row(app, "api.allow_insecure_http").control, Switch)
        theme = row(app, "ui.theme").control
        assert isinstance(theme, Select) and theme.value == "textual-light"
        pin = row(app, "api.password").control
        assert isinstance(pin, Input) and pin.password
        assert row(app, "refresh.account_interval").control.value == "60"  # not "60.0"
        assert "config file" in str(app.settings_screen.query_one("#settings-keymap").visual)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", "Concurrency (unlock.concurrency) must be from 1 to 16, not 0"),
        ("abc", "whole number"),
    ],
)
@pytest.mark.parametrize("size", [SMALL, LARGE])
async def test_bad_number_shows_inline_error(
    tmp_path: Path, size: tuple[int, int], text: str, expected: str
) -> None:
    app = host(Settings(), tmp_path / "c.toml")
    async with app.run_test(size=size) as pilot:
        await type_into(pilot, app, "unlock.concurrency", text)
        concurrency = row(app, "unlock.concurrency")
        assert concurrency.error is not None and expected in concurrency.error
        error_line = concurrency.query_one(".setting-error", Static)
        assert error_line.display and expected in str(error_line.visual)
        await type_into(pilot, app, "unlock.concurrency", "4")
        assert concurrency.error is None and not error_line.display


async def test_bad_url_shows_inline_error(tmp_path: Path) -> None:
    app = host(Settings(), tmp_path / "c.toml")
    async with app.run_test(size=SMALL) as pilot:
        await type_into(pilot, app, "api.url", "ftp://x")
        assert (
            row(app, "api.url").error == "API URL (api.url) must start with https:// (or http://)"
        )


async def test_plain_http_to_a_remote_host_is_refused(tmp_path: Path) -> None:
    app = host(configured("http://example.com/pm-api/v1.php"), tmp_path / "c.toml")
    async with app.run_test(size=SMALL) as pilot:
        await type_into(pilot, app, "api.login", LOGIN)  # any edit validates the form
        url = row(app, "api.url")
        assert url.error is not None and "plain http://" in url.error
        # The test sends nothing: the client refuses before any request.
        await run_connection_test(pilot, app)
        assert status(app).startswith("refusing to send the PIN over plain http to example.com")
        assert PIN not in status(app)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not (tmp_path / "c.toml").exists() and app.applied == []
        # Opting in clears the error.
        insecure = row(app, "api.allow_insecure_http").control
        assert isinstance(insecure, Switch)
        insecure.value = True
        await pilot.pause()
        assert url.error is None


# --- test connection ----------------------------------------------------------


@pytest.mark.parametrize("size", [SMALL, LARGE])
async def test_connection_ok(tmp_path: Path, emu: Emulator, size: tuple[int, int]) -> None:
    # The saved settings hold a wrong PIN: the test must use the form.
    app = host(configured(emu.url, password="9999"), tmp_path / "c.toml")
    async with app.run_test(size=size) as pilot:
        await type_into(pilot, app, "api.password", PIN)
        await run_connection_test(pilot, app)
        assert status(app) == "ok: 111111111, premium, fair use 77% left"
        # Editing the form makes the result stale: it goes away.
        await type_into(pilot, app, "unlock.concurrency", "3")
        assert status(app) == ""
        assert not (tmp_path / "c.toml").exists()


async def test_connection_over_https_uses_the_ca_file_of_the_form(tmp_path: Path) -> None:
    with Emulator(tls=True) as tls:
        ca_file = write_ca(tls, tmp_path)
        app = host(configured(tls.url), tmp_path / "c.toml")
        async with app.run_test(size=SMALL) as pilot:
            await run_connection_test(pilot, app)
            assert status(app).startswith(f"the certificate of 127.0.0.1:{tls.port} is not trusted")
            assert "the PIN was not sent" in status(app)
            await type_into(pilot, app, "api.ca_file", str(ca_file))
            await run_connection_test(pilot, app)
            assert status(app) == "ok: 111111111, premium, fair use 77% left"
            await type_into(pilot, app, "api.ca_file", str(tmp_path / "nowhere.pem"))
            await run_connection_test(pilot, app)
            assert status(app).startswith(f"cannot read the CA file {tmp_path / 'nowhere.pem'}")
    assert sum(tls.stats.calls.values()) == 1  # the trusted test alone reached the service


async def test_connection_login_failed(tmp_path: Path, emu: Emulator) -> None:
    app = host(configured(emu.url, password="9876"), tmp_path / "c.toml")
    async with app.run_test(size=SMALL) as pilot:
        await run_connection_test(pilot, app)
        assert status(app) == "login failed: check login and PIN"


async def test_connection_unreachable(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = host(configured(f"http://127.0.0.1:{port}/pm-api/v1.php"), tmp_path / "c.toml")
    async with app.run_test(size=SMALL) as pilot:
        await run_connection_test(pilot, app)
        assert status(app).startswith("unreachable: connection failed")


async def test_connection_needs_fields_that_parse(tmp_path: Path, emu: Emulator) -> None:
    app = host(configured(emu.url), tmp_path / "c.toml")
    async with app.run_test(size=SMALL) as pilot:
        await type_into(pilot, app, "api.timeout", "soon")
        await run_connection_test(pilot, app)
        assert status(app) == "Fix the settings marked in red first"
        assert app.settings_screen.focused is row(app, "api.timeout").control


# --- save and cancel ----------------------------------------------------------


@pytest.mark.parametrize("size", [SMALL, LARGE])
async def test_save_writes_0600_and_applies(
    tmp_path: Path, emu: Emulator, size: tuple[int, int]
) -> None:
    path = tmp_path / "sub" / "config.toml"
    app = host(configured(emu.url), path)
    async with app.run_test(size=size) as pilot:
        await type_into(pilot, app, "unlock.concurrency", "4")
        theme = row(app, "ui.theme").control
        assert isinstance(theme, Select)
        theme.value = "textual-light"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        saved = tomllib.loads(path.read_text())
        assert saved["unlock"]["concurrency"] == 4
        assert saved["ui"]["theme"] == "textual-light"
        assert saved["api"]["password"] == PIN
        assert len(app.applied) == 1
        applied = app.applied[0]
        assert applied.unlock.concurrency == 4 and applied.api.url == emu.url
        assert app.dismissed_with == [applied]
        assert not isinstance(app.screen, SettingsScreen)


async def test_a_pin_from_the_environment_is_not_saved(tmp_path: Path, emu: Emulator) -> None:
    path = tmp_path / "config.toml"
    settings = Settings(
        api=ApiSettings(url=emu.url, login=LOGIN, password=PIN),
        overrides={"api.password": Override("LINKDECK_PASSWORD", PIN, "")},
    )
    app = host(settings, path)
    async with app.run_test(size=SMALL) as pilot:
        help_line = row(app, "api.password").query_one(".setting-help", Static)
        assert "Now set by LINKDECK_PASSWORD" in str(help_line.visual)
        await run_connection_test(pilot, app)  # the form holds the PIN from the environment
        assert status(app).startswith("ok: ")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert tomllib.loads(path.read_text())["api"]["password"] == ""
        assert app.applied[0].api.password == PIN


async def test_save_keeps_the_keymap(tmp_path: Path, emu: Emulator) -> None:
    path = tmp_path / "config.toml"
    settings = Settings(
        api=ApiSettings(url=emu.url, login=LOGIN, password=PIN), keymap={"unlock": "ctrl+u"}
    )
    app = host(settings, path)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert tomllib.loads(path.read_text())["keymap"] == {"unlock": "ctrl+u"}


async def test_save_with_errors_focuses_the_first_bad_field(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    app = host(Settings(), path, first_run=True)
    async with app.run_test(size=SMALL) as pilot:
        await type_into(pilot, app, "api.url", "https://example.com/pm-api/v1.php")
        await type_into(pilot, app, "api.login", LOGIN)
        await type_into(pilot, app, "api.password", PIN)
        more = app.settings_screen.query_one(Collapsible)
        more.collapsed = False
        await type_into(pilot, app, "refresh.account_interval", "-5")
        more.collapsed = True
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not path.exists() and app.applied == []
        # The bad field was inside the collapsed section: it is opened and focused.
        assert not more.collapsed
        assert app.settings_screen.focused is row(app, "refresh.account_interval").control
        assert status(app) == "Not saved: 1 setting needs fixing"


async def test_save_refuses_a_file_that_does_not_parse(tmp_path: Path, emu: Emulator) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[api\nurl = 'https://x'\n")
    app = host(configured(emu.url), path)
    async with app.run_test(size=SMALL) as pilot:
        await type_into(pilot, app, "unlock.concurrency", "7")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert path.read_text() == "[api\nurl = 'https://x'\n"
        assert "refusing to overwrite a settings file that does not parse" in status(app)
        assert app.applied == [] and app.screen is app.settings_screen
        assert row(app, "unlock.concurrency").control.value == "7"  # nothing typed is lost


async def test_escape_leaves_without_saving(tmp_path: Path, emu: Emulator) -> None:
    path = tmp_path / "config.toml"
    app = host(configured(emu.url), path)
    async with app.run_test(size=SMALL) as pilot:
        await type_into(pilot, app, "unlock.concurrency", "9")
        await pilot.press("escape")
        await pilot.pause()
        assert not path.exists() and app.applied == []
        assert app.dismissed_with == [None]


# --- first run ----------------------------------------------------------------


@pytest.mark.parametrize("size", [SMALL, LARGE])
async def test_first_run_with_empty_settings(tmp_path: Path, size: tuple[int, int]) -> None:
    path = tmp_path / "config.toml"
    app = host(Settings(), path, first_run=True)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = app.settings_screen
        assert screen.title == "Welcome to linkdeck"
        assert screen.focused is row(app, "api.url").control
        assert "plain http:// is refused" in str(screen.query_one("#settings-intro").visual)
        more = screen.query_one(Collapsible)
        assert more.collapsed
        essentials = {r.field.key for r in screen.query(SettingRow) if more not in r.ancestors}
        assert essentials == {"api.url", "api.login", "api.password"}
        # Escape does not leave a first run with nothing to go back to.
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and app.dismissed_with == []
        # Saving empty essentials says what is missing.
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not path.exists()
        assert (
            row(app, "api.url").error == "API URL (api.url) is needed: the service's API endpoint"
        )
        assert row(app, "api.password").error == "PIN (api.password) is needed, or a PIN command"
        assert screen.focused is row(app, "api.url").control


async def test_first_run_to_saved_settings(tmp_path: Path, emu: Emulator) -> None:
    path = tmp_path / "config.toml"
    app = host(Settings(), path, first_run=True)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        row(app, "api.url").control.value = emu.url  # type: ignore[union-attr]
        await pilot.press("tab", *LOGIN, "tab", *PIN)
        await run_connection_test(pilot, app)
        assert status(app).startswith("ok: 111111111")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.applied and app.applied[0].is_usable()
        assert tomllib.loads(path.read_text())["api"]["login"] == LOGIN


async def test_the_pin_is_never_on_screen(tmp_path: Path, emu: Emulator) -> None:
    secret = "7391"
    app = host(configured(emu.url, password=secret), tmp_path / "c.toml")
    async with app.run_test(size=LARGE) as pilot:
        await run_connection_test(pilot, app)  # a login failure must not echo it either
        assert status(app) == "login failed: check login and PIN"
        assert secret not in app.export_screenshot()


# --- snapshots ----------------------------------------------------------------


def _first_run_app() -> Host:
    # A fixed path: it appears in the title, and nothing is saved here.
    return host(Settings(), Path("/home/user/.config/linkdeck/config.toml"), first_run=True)


async def _settle(pilot: Pilot) -> None:
    await pilot.pause()


def test_snapshot_first_run_80x24(snap_compare) -> None:
    assert snap_compare(_first_run_app(), terminal_size=SMALL, run_before=_settle)


def test_snapshot_first_run_120x40(snap_compare) -> None:
    assert snap_compare(_first_run_app(), terminal_size=LARGE, run_before=_settle)


@pytest.mark.parametrize(
    ("login", "pin", "says"),
    [
        ("222222222", "2222", "but this free account cannot download: links fail with 402"),
        ("555555555", "5555", "but no fair use is left: links wait (509) until some is back"),
    ],
)
async def test_connection_says_when_the_account_cannot_unlock(
    tmp_path: Path, emu: Emulator, login: str, pin: str, says: str
) -> None:
    """Before the first link fails on it."""
    settings = Settings(api=ApiSettings(url=emu.url, login=login, password=pin))
    app = host(settings, tmp_path / "c.toml")
    async with app.run_test(size=SMALL) as pilot:
        await run_connection_test(pilot, app)
        assert says in status(app)
        assert "-warning" in app.settings_screen.query_one("#settings-status").classes


async def test_aria2s_secret_is_a_password_box_and_is_saved(tmp_path: Path, emu: Emulator) -> None:
    path = tmp_path / "config.toml"
    app = host(configured(emu.url), path)
    async with app.run_test(size=LARGE) as pilot:
        secret = row(app, "aria2.secret").control
        assert isinstance(secret, Input) and secret.password
        engine = row(app, "download.engine").control
        assert isinstance(engine, Select) and engine.value == "builtin"
        engine.value = "aria2"
        await type_into(pilot, app, "aria2.secret", "aria2-s3cret")
        await type_into(pilot, app, "download.rate_limit", "-1")
        assert "at least 0" in (row(app, "download.rate_limit").error or "")
        await type_into(pilot, app, "download.rate_limit", "1000000")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, SettingsScreen)
    saved = tomllib.loads(path.read_text())
    assert saved["aria2"]["secret"] == "aria2-s3cret"
    assert saved["download"] == {**saved["download"], "engine": "aria2", "rate_limit": 1000000}
    assert app.applied[0].download.engine == "aria2"
