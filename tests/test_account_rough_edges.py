"""The log as a workspace: a fair-use hold belongs to its account, the keys say
what they do while the queue is held, and `y` copies every finished link of
the history, not only this session's."""

from __future__ import annotations

from typing import Any

from deck import settle, wait_for
from rich.text import Text
from test_app_flows import DONE, SIZE, connection_text, items_by_link, queue, select
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tui.app import LinkdeckApp
from tui.core import Connection
from tui.emulator import Emulator
from tui.screens.dashboard import DashboardScreen
from tui.unlock import FakeClock, ItemState

EXHAUSTED_LOGIN, EXHAUSTED_PIN = "555555555", "5555"
OTHER = "https://uploaded.net/file/bcde1234/second.zip"
THIRD = "https://uploaded.net/file/bcde2345/third.zip"


def toasts(app: LinkdeckApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def last_toast(pilot: Pilot[Any], app: LinkdeckApp, *keys: str) -> str:
    app.clear_notifications()
    await pilot.press(*keys)
    await pilot.pause()
    assert toasts(app), f"{keys} said nothing"
    return toasts(app)[-1]


async def test_a_fair_use_hold_ends_with_a_change_of_account_and_the_keys_say_so(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    # One at a time: the first link meets the 509, the second is held by it.
    profile = make_profile(emulator, EXHAUSTED_LOGIN, EXHAUSTED_PIN, unlock={"concurrency": 1})
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, DONE, OTHER)
        engine = app.session.engine
        assert engine is not None and engine.queue_state.global_hold_until is not None
        held = [i for i in items_by_link(app).values() if i.state is ItemState.HELD]
        assert held, "the 509 holds the other link"
        # A link added now is held at once: the toast says so.
        await queue(pilot, app, THIRD)
        assert any("They are held until 08:10" in toast for toast in toasts(app))
        await pilot.press("escape")  # the log, not the input

        # While held, each key says what happens.
        select(app, held[0])
        retry = await last_toast(pilot, app, "R")
        assert "held until" in retry and "fair use" in retry
        refresh = await last_toast(pilot, app, "r")
        assert "held until" in refresh
        pause = await last_toast(pilot, app, "p")
        assert "paused" in pause.lower()
        resume = await last_toast(pilot, app, "p")
        assert "resumed" in resume.lower() and "held until" in resume

        # Another account: the hold was the other one's, the links go now.
        await pilot.press("s")
        app.screen.query_one("#setting-api-login", Input).value = "111111111"
        app.screen.query_one("#setting-api-password", Input).value = "1111"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await settle(pilot, app)
        assert engine.queue_state.global_hold_until is None
        await wait_for(
            pilot,
            lambda: all(i.state is ItemState.DONE for i in items_by_link(app).values()),
        )


async def test_copy_all_takes_the_links_finished_before_a_restart(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator)
    first = LinkdeckApp(profile, clock=fake_clock)
    async with first.run_test(size=SIZE) as pilot:
        await settle(pilot, first)
        await queue(pilot, first, DONE)
        earlier = items_by_link(first)[DONE].location
    again = LinkdeckApp(profile, clock=fake_clock)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot, again)
        await queue(pilot, again, OTHER)
        await pilot.press("escape", "y")
        copied = again.clipboard.splitlines()
        done = again.session.history.counts_by_state()[ItemState.DONE]
        assert len(copied) == done == 2
        assert earlier in copied and items_by_link(again)[OTHER].location in copied


async def test_the_connection_line_says_how_long_ago_and_fits_80_columns(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        line = app.query_one("#account-connection", Static)
        fake_clock.advance(12)
        # Under a minute it says "just now", so an idle dashboard does not redraw
        # the line every second (over SSH, for days).
        await wait_for(pilot, lambda: "refreshed 08:00, just now" in connection_text(app))
        fake_clock.advance(170)
        await wait_for(pilot, lambda: "refreshed 08:00, 3 min ago" in connection_text(app))

        emulator.stop()
        await pilot.press("r")
        panel = app.dashboard.account
        await wait_for(pilot, lambda: panel.connection is Connection.STALE)
        text = connection_text(app)
        # The server's reason is cut, not when the next try comes.
        assert "data from 3 min ago" in text and "retry 08:03" in text
        assert Text(text).cell_len <= line.size.width
