"""Snapshots of the dashboard at 80x24 and 120x40 (pytest-textual-snapshot).

Deterministic: the app and the emulator share a FakeClock at a fixed instant, the
emulator listens on a fixed port (direct links contain it), TZ is UTC (conftest),
no cursor blinks, and `run_before` waits until the workers' results are shown.
Regenerate with `pytest tests/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import errno
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from deck import FIXED_NOW, quiet, settle, wait_for
from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import LinkdeckApp
from tui.core import Connection, Profile
from tui.core.events import DownloadChanged, DownloadTotals
from tui.download.job import Download, DownloadState
from tui.emulator import Emulator
from tui.screens.detail import ItemDetailScreen
from tui.screens.help import HelpScreen
from tui.screens.hoster_detail import HosterDetailScreen
from tui.screens.settings_form import SettingsScreen
from tui.unlock import FakeClock, ItemState

SNAPSHOT_PORT = 47654
# One worker runs them all, one after another: they share the port.
pytestmark = pytest.mark.xdist_group("snapshot-port")
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
# Shown in the settings' title; nothing is ever saved there.
CONFIG_PATH = Path("/home/user/.config/linkdeck/config.toml")

DONE = "https://uploaded.net/file/abcd1234/holiday-photos.zip"
MISSING = "https://uploaded.net/file/abcd2345/missing/gone.zip"
UNAVAILABLE = "https://share-online.biz/dl/ABCDEF123456"
HELD = "https://share-online.biz/dl/ABCDEF654321"
UNSUPPORTED = "https://example.com/files/nobody-serves-this.zip"
BUSY = "https://uploaded.net/file/abcd3456/busy/later.zip"
CANCELLED = "https://uploaded.net/file/abcd6789/busy/cancel-me.zip"
HANGING = "https://uploaded.net/file/abcd5678/still-unlocking.iso"

RunBefore = Callable[[Pilot[Any]], Awaitable[None]]


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock(FIXED_NOW)


@pytest.fixture
def fixed_emulator(fake_clock: FakeClock) -> Iterator[Emulator]:
    """The emulator on a fixed port, so the direct links in the snapshots match."""
    emulator = Emulator(port=SNAPSHOT_PORT, clock=fake_clock.now)
    try:
        emulator.start()
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        pytest.fail(f"port {SNAPSHOT_PORT} is taken; the snapshots need it for their links")
    yield emulator
    emulator.stop()


@pytest.fixture
def deck(
    fixed_emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock
) -> Callable[..., LinkdeckApp]:
    """`deck(pin=...)`: the app on the fixed emulator and the fake clock."""

    def make(**profile_args: Any) -> LinkdeckApp:
        profile = make_profile(fixed_emulator, **profile_args)
        profile = Profile(
            profile.settings, CONFIG_PATH, profile.data_dir, profile.cache_dir, demo=True
        )
        return LinkdeckApp(profile, clock=fake_clock)

    return make


def ready(*steps: RunBefore, **settle_args: bool) -> RunBefore:
    """A run_before: settle, run `steps`, then quiet the screen for the shot."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LinkdeckApp)
        await settle(pilot, app, **settle_args)
        for step in steps:
            await step(pilot)
        await quiet(pilot)

    return run_before


def press(*keys: str) -> RunBefore:
    async def step(pilot: Pilot[Any]) -> None:
        await pilot.press(*keys)
        await pilot.pause()

    return step


def unlock(*links: str) -> RunBefore:
    """Paste `links` into the unlock input, Enter, wait for the engine, back to the log."""

    async def step(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LinkdeckApp)
        await pilot.press("u")
        app.query_one("#links", Input).value = " ".join(links)
        await pilot.press("enter")
        await settle(pilot, app)
        await pilot.press("escape")

    return step


def every_state(emulator: Emulator) -> RunBefore:
    """One item in each state, the last one hanging in `unlocking`."""

    async def step(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LinkdeckApp) and app.session.engine is not None
        await unlock(DONE, MISSING, UNAVAILABLE, UNSUPPORTED, BUSY, CANCELLED)(pilot)
        # After the 428, share-online.biz is held; the same link again is reused.
        await unlock(HELD, DONE)(pilot)
        items = {item.link: item for item in app.session.engine.items.values()}
        app.session.engine.cancel(items[CANCELLED].id)
        emulator.faults.hang_seconds = 30  # ends when the emulator stops
        await pilot.press("u")
        app.query_one("#links", Input).value = HANGING
        await pilot.press("enter", "escape")

        def unlocking() -> bool:
            return any(i.state is ItemState.UNLOCKING for i in app.session.items())

        await wait_for(pilot, unlocking)
        await pilot.pause()  # and shown
        states = {item.state for item in app.session.engine.items.values()}
        assert states == set(ItemState) - {ItemState.PENDING}, states

    return step


class TestDashboard:
    @pytest.mark.parametrize("size", SIZES)
    def test_demo_data(self, snap_compare, deck, size) -> None:
        assert snap_compare(deck(), terminal_size=size, run_before=ready())

    @pytest.mark.parametrize("size", SIZES)
    def test_filtered_hosters(self, snap_compare, deck, size) -> None:
        assert snap_compare(
            deck(), terminal_size=size, run_before=ready(press("2", "slash", "u", "p", "l"))
        )

    def test_hosters_at_80_columns(self, snap_compare, deck) -> None:
        assert snap_compare(deck(), terminal_size=(80, 24), run_before=ready(press("2")))

    def test_in_the_filter(self, snap_compare, deck) -> None:
        # The footer says what Enter and Escape do in the filter.
        assert snap_compare(
            deck(), terminal_size=(80, 24), run_before=ready(press("2", "slash", "u", "p", "l"))
        )


class TestLog:
    @pytest.mark.parametrize("size", SIZES)
    def test_every_state(self, snap_compare, deck, fixed_emulator, size) -> None:
        assert snap_compare(
            deck(), terminal_size=size, run_before=ready(every_state(fixed_emulator))
        )

    @pytest.mark.parametrize("size", SIZES)
    def test_detail(self, snap_compare, deck, size) -> None:
        async def open_done(pilot: Pilot[Any]) -> None:
            await unlock(DONE, BUSY)(pilot)
            await pilot.press("up", "enter")
            assert isinstance(pilot.app.screen, ItemDetailScreen)

        assert snap_compare(deck(), terminal_size=size, run_before=ready(open_done))


def downloads_in_every_state() -> RunBefore:
    """Five unlocked items whose downloads are fed as the session tells them
    (fixed bytes and speeds: no live download in a snapshot)."""

    async def step(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LinkdeckApp)
        links = [f"https://uploaded.net/file/dlsm{n:04d}/small-{n}.zip" for n in (43, 86, 19, 162)]
        await unlock(DONE, *links)(pilot)
        ids = [item.id for item in sorted(app.session.items(), key=lambda item: item.id)]
        mb = 1024 * 1024
        shown = (
            (DownloadState.DOWNLOADING, {"done": 64 * mb, "total": 100 * mb, "speed": 12 * mb}),
            (DownloadState.PAUSED, {"done": 8 * mb, "total": 20 * mb}),
            (DownloadState.DONE, {"done": 20 * mb, "total": 20 * mb}),
            (DownloadState.FAILED, {"message": "No space left on the device"}),
            (DownloadState.QUEUED, {"total": 20 * mb}),
        )
        for item_id, (state, values) in zip(ids, shown, strict=True):
            job = Download(item_id, state, "http://dl/x", "/home/user/Downloads", **values)
            app.dashboard.show_event(DownloadChanged(job))
        app.dashboard.show_event(DownloadTotals(12 * mb, 56 * mb, 1, 1))
        await pilot.pause()

    return step


class TestDownloads:
    @pytest.mark.parametrize("size", SIZES)
    def test_downloads_in_every_state(self, snap_compare, deck, size) -> None:
        assert snap_compare(
            deck(), terminal_size=size, run_before=ready(downloads_in_every_state())
        )


class TestConnection:
    @pytest.mark.parametrize("size", SIZES)
    def test_login_failed(self, snap_compare, deck, size) -> None:
        async def check(pilot: Pilot[Any]) -> None:
            app = pilot.app
            assert isinstance(app, LinkdeckApp)
            assert app.dashboard.account.connection is Connection.LOGIN_FAILED

        assert snap_compare(
            deck(pin="9999"),
            terminal_size=size,
            run_before=ready(check, account=False, hosters=False),
        )

    @pytest.mark.parametrize("size", SIZES)
    def test_unreachable(self, snap_compare, deck, fixed_emulator, size) -> None:
        fixed_emulator.stop()

        async def check(pilot: Pilot[Any]) -> None:
            app = pilot.app
            assert isinstance(app, LinkdeckApp)
            assert app.dashboard.account.connection is Connection.UNREACHABLE

        assert snap_compare(
            deck(), terminal_size=size, run_before=ready(check, account=False, hosters=False)
        )


class TestScreens:
    @pytest.mark.parametrize("size", SIZES)
    def test_settings(self, snap_compare, deck, size) -> None:
        async def check(pilot: Pilot[Any]) -> None:
            assert isinstance(pilot.app.screen, SettingsScreen)

        assert snap_compare(deck(), terminal_size=size, run_before=ready(press("s"), check))

    @pytest.mark.parametrize("size", SIZES)
    def test_hoster_detail(self, snap_compare, deck, size) -> None:
        async def check(pilot: Pilot[Any]) -> None:
            assert isinstance(pilot.app.screen, HosterDetailScreen)

        assert snap_compare(
            deck(),
            terminal_size=size,
            run_before=ready(
                unlock(DONE),
                press("2", "slash", *"rapidgator", "enter", "enter"),
                check,
            ),
        )

    @pytest.mark.parametrize("size", SIZES)
    def test_help(self, snap_compare, deck, size) -> None:
        async def check(pilot: Pilot[Any]) -> None:
            assert isinstance(pilot.app.screen, HelpScreen)

        assert snap_compare(
            deck(), terminal_size=size, run_before=ready(press("question_mark"), check)
        )
