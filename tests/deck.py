"""Helpers of the dashboard tests, the snapshot tests and tests/screenshots.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from tui.app import LinkdeckApp

FIXED_NOW = 1_800_000_000.0
"""2027-01-15 08:00 UTC: every clock of the app and the emulator starts here."""

PREMIUM_LOGIN, PREMIUM_PIN = "111111111", "1111"


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Pause the pilot until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {getattr(condition, '__name__', '?')}")
        await pilot.pause(0.05)


async def settle(
    pilot: Pilot[Any],
    app: LinkdeckApp,
    *,
    account: bool = True,
    hosters: bool = True,
    timeout: float = 5.0,
) -> None:
    """Wait until the dashboard shows the results of its first refreshes and the
    engine is idle. Polls re-arm themselves, so waiting for the workers alone
    never ends; this waits for what the user would see instead.

    `account=False` waits for any settled connection state (login failed,
    unreachable…) instead of account data."""
    from tui.core import Connection

    dashboard = app.dashboard

    def shown() -> bool:
        panel = dashboard.account
        if account:
            ready = panel.account is not None and panel.connection is Connection.OK
        else:
            ready = panel.connection not in (Connection.WAITING, Connection.REFRESHING)
        if hosters and not dashboard.hosters.query_one("#hoster-table").row_count:
            return False
        return ready

    await pilot.pause()
    await wait_for(pilot, shown, timeout)
    if app.session.engine is not None:
        await asyncio.wait_for(app.session.engine.wait_idle(), timeout)
    # Let the messages the engine posted reach the widgets, and repaint.
    await pilot.pause()
    await pilot.pause()


async def quiet(pilot: Pilot[Any]) -> None:
    """Make the screen steady for a snapshot or screenshot: no toasts (their
    timeouts run on real time), no blinking cursor, progress bars at their width."""
    from textual.widgets import ProgressBar
    from textual.widgets._progress_bar import Bar

    app = pilot.app
    app.clear_notifications()
    # A Bar rounds its fill to the width it had when the value arrived (none
    # before the first layout): set it again now that the layout is final.
    for screen in {app.default_screen, app.screen}:
        for progress in screen.query(ProgressBar):
            for bar in progress.query(Bar):
                bar.percentage = progress.percentage
    for widget in app.screen.walk_children(with_self=False):
        if hasattr(widget, "cursor_blink"):
            widget.cursor_blink = False
    await pilot.pause()
    await pilot.pause()
