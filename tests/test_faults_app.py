"""The dashboard against every fault of the emulator, end to end with Pilot.

For each fault: no crash (no unhandled worker error, no error toast), the right
state on screen (stale with the age of the data when there was data,
unreachable with the retry time when there was none, "refresh failed" beside
the hoster count), no queued link lost (each ends waiting with its attempt
recorded, in the engine and in the history database) and recovery once the
fault stops (account ok, the waiting links done).

The API timeout is 0.5 s for latency and hangs, so that they cost little real
time, and 5 s for the other faults, so that a loaded machine never turns them
into timeouts; the engine's retry delays run on the FakeClock.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from deck import settle, wait_for
from rich.text import Text
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tui.api.parse import MAX_HOSTERLIST_BYTES
from tui.app import LinkdeckApp
from tui.core import Connection, Notice
from tui.emulator import Emulator, Faults
from tui.unlock import FakeClock, Item, ItemState

SIZE = (120, 40)
TIMEOUT = 0.5
RETRY_DELAY = 180.0
LINKS = (
    "https://uploaded.net/file/fault001/one.zip",
    "https://uploaded.net/file/fault002/two.zip",
    "https://uploaded.net/file/fault003/three.zip",
)


class WatchedApp(LinkdeckApp):
    """The app, recording every failure nobody expected (a poll or a worker
    that raised): the session reports them as an "Unexpected error" notice,
    and goes on, so such an error would otherwise pass unseen here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.worker_errors: list[str] = []

        def record(event: object) -> None:
            if isinstance(event, Notice) and event.title == "Unexpected error":
                self.worker_errors.append(event.text)

        self.session.subscribe(record)


@dataclass(frozen=True)
class Fault:
    """How to switch one fault on and off, and the words it leaves on screen."""

    id: str
    faults: dict[str, Any] = field(default_factory=dict)
    problem: str = ""
    stop_server: bool = False
    timeout: float = 5.0
    """The API timeout. It bounds each whole call: short only for the faults of
    time, so that a loaded machine never turns another fault into a timeout."""

    def on(self, emulator: Emulator) -> None:
        if self.stop_server:
            emulator.stop()
        else:
            emulator.faults = Faults(**self.faults)

    def off(self, emulator: Emulator) -> None:
        emulator.faults = Faults()
        if self.stop_server:
            emulator.restart()


FAULTS = [
    Fault("latency", {"latency_ms": 3000}, "service unreachable: timed out", timeout=TIMEOUT),
    Fault("malformed-json", {"malformed_json": True}, "malformed answer: not JSON (HTTP 200)"),
    Fault(
        "html-error-page",
        {"html_error_page": True},
        "malformed answer: HTML page instead of JSON (HTTP 502)",
    ),
    Fault("connection-reset", {"connection_reset": True}, "service unreachable"),
    Fault("hang", {"hang_seconds": 4.0}, "service unreachable: timed out", timeout=TIMEOUT),
    Fault("server-stopped", problem="service unreachable: connection failed", stop_server=True),
    Fault(
        "body-over-cap",
        # Over both caps: 4 MB for every answer, 32 MB for the hoster list.
        {"huge_body_bytes": MAX_HOSTERLIST_BYTES + 1024 * 1024},
        "malformed answer: body larger than",
        timeout=10,  # reading 33 MB takes a while
    ),
]


# --- helpers -------------------------------------------------------------------


def text_of(widget: Static) -> str:
    content = widget.content
    return content.plain if isinstance(content, Text) else str(content)


def connection_text(app: LinkdeckApp) -> str:
    return text_of(app.query_one("#account-connection", Static))


def hoster_count(app: LinkdeckApp) -> str:
    return text_of(app.query_one("#hoster-count", Static))


def make_app(
    make_profile: Callable[..., Any],
    emulator: Emulator,
    clock: FakeClock,
    timeout: float = TIMEOUT,
) -> WatchedApp:
    profile = make_profile(emulator, api={"timeout": timeout}, unlock={"retry_delay": RETRY_DELAY})
    return WatchedApp(profile, clock=clock)


def items(app: LinkdeckApp) -> dict[str, Item]:
    assert app.session.engine is not None
    return {item.link: item for item in app.session.engine.items.values()}


def stored_states(app: LinkdeckApp) -> dict[str, tuple[str, int]]:
    """link -> (state, number of attempts) as the history database holds them."""
    with sqlite3.connect(app.session.profile.history_path) as db:
        rows = db.execute("SELECT link, state, attempts FROM items").fetchall()
    import json

    return {link: (state, len(json.loads(attempts))) for link, state, attempts in rows}


async def queue_links(pilot: Pilot[Any], app: LinkdeckApp, *links: str) -> None:
    """Paste `links` into the unlock input and press Enter (as a user would)."""
    await pilot.press("u")
    app.post_message(events.Paste("\n".join(links)))
    await pilot.pause()
    await pilot.press("enter")
    await pilot.press("escape")
    await wait_for(pilot, lambda: set(links) <= set(items(app)))


async def engine_idle(pilot: Pilot[Any], app: LinkdeckApp, timeout: float = 10.0) -> None:
    assert app.session.engine is not None
    deadline = time.monotonic() + timeout
    while not app.session.engine._idle(include_waiting=False):
        assert time.monotonic() < deadline, "the engine never became idle"
        await pilot.pause(0.05)
    await pilot.pause()


def assert_no_crash(app: WatchedApp) -> None:
    assert app.is_running
    assert app._exception is None
    assert app.worker_errors == []
    errors = [n for n in app._notifications if n.severity == "error"]
    assert errors == [], [n.message for n in errors]


def assert_nothing_lost(app: LinkdeckApp, links: tuple[str, ...]) -> None:
    """Every link waits for its retry with the failed attempt recorded, in the
    engine and in the history database."""
    now = items(app)
    stored = stored_states(app)
    for link in links:
        item = now[link]
        assert item.state is ItemState.WAITING, (link, item.state, item.message)
        assert len(item.attempts) == 1 and item.next_attempt_at is not None
        assert stored[link] == ("waiting", 1)


async def recover(pilot: Pilot[Any], app: WatchedApp, clock: FakeClock) -> None:
    """The fault is gone: a refresh shows the account, the retries finish the links."""
    panel = app.dashboard.account
    await pilot.press("r")
    await wait_for(pilot, lambda: panel.connection is Connection.OK, timeout=10)
    await wait_for(pilot, lambda: "refresh failed" not in hoster_count(app), timeout=10)
    assert connection_text(app).startswith("● ok")
    clock.advance(RETRY_DELAY + 1)
    await wait_for(
        pilot,
        lambda: all(item.state is ItemState.DONE for item in items(app).values()),
        timeout=10,
    )
    assert all(state == "done" for state, _ in stored_states(app).values())


# --- each fault after a good start: stale data, waiting links, recovery -----------


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
async def test_fault_after_a_good_start(
    fault: Fault, emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = make_app(make_profile, emulator, fake_clock, fault.timeout)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        panel = app.dashboard.account

        fault.on(emulator)
        await queue_links(pilot, app, *LINKS)
        await engine_idle(pilot, app)
        assert_nothing_lost(app, LINKS)
        for link in LINKS:
            assert fault.problem.split(":")[0] in items(app)[link].message

        fake_clock.advance(120)
        await pilot.press("r")
        await wait_for(pilot, lambda: panel.connection is Connection.STALE, timeout=10)
        await wait_for(pilot, lambda: "refresh failed" in hoster_count(app), timeout=10)
        text = connection_text(app)
        assert text.startswith("◐ stale  data from 2 min ago"), text
        assert fault.problem[:40] in text, text
        assert "retry 08:02" in text
        assert panel.account is not None  # the last good data stays on screen
        assert hoster_count(app).startswith("69 of 69")  # and so do the hosters
        assert "refresh failed: " + fault.problem[:20] in hoster_count(app)
        assert_no_crash(app)

        fault.off(emulator)
        await recover(pilot, app, fake_clock)
        assert_no_crash(app)


# --- each fault from the start: unreachable, held links, recovery ------------------


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
async def test_fault_from_the_start(
    fault: Fault, emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    fault.on(emulator)
    app = make_app(make_profile, emulator, fake_clock, fault.timeout)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.dashboard.account
        await wait_for(pilot, lambda: panel.connection is Connection.UNREACHABLE, timeout=10)
        await wait_for(pilot, lambda: "refresh failed" in hoster_count(app), timeout=10)
        text = connection_text(app)
        assert text.startswith("✗ unreachable"), text
        assert fault.problem[:40] in text
        assert "retry 08:00" in text
        assert panel.account is None

        # No hoster list yet: links are held for it, not failed and not sent.
        await queue_links(pilot, app, *LINKS)
        await pilot.pause()
        for link in LINKS:
            item = items(app)[link]
            assert item.state is ItemState.HELD and item.message == "waiting for the hoster list"
        assert {stored_states(app)[link] for link in LINKS} == {("held", 0)}
        assert_no_crash(app)

        fault.off(emulator)
        await pilot.press("r")
        await settle(pilot, app, timeout=10)
        assert panel.connection is Connection.OK
        await wait_for(pilot, lambda: all(i.state is ItemState.DONE for i in items(app).values()))
        assert_no_crash(app)


# --- a share of 5xx answers -----------------------------------------------------------


async def test_a_share_of_5xx_answers(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = make_app(make_profile, emulator, fake_clock)
    links = tuple(f"https://uploaded.net/file/share{n:03d}/f.zip" for n in range(8))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        panel = app.dashboard.account
        emulator.faults = Faults(error_rate=0.5, seed=7)

        # Every link either unlocks or waits for its retry after a 502 or 503.
        await queue_links(pilot, app, *links)
        await engine_idle(pilot, app)
        states = {item.state for item in items(app).values()}
        assert states <= {ItemState.DONE, ItemState.WAITING}, states
        assert ItemState.WAITING in states
        stored = stored_states(app)
        for link, item in items(app).items():
            assert stored[link] == (item.state.value, len(item.attempts))
            if item.state is ItemState.WAITING:
                assert item.status in (502, 503) and item.next_attempt_at is not None

        # Refreshes fail now and then: stale while they do, ok again at the next success.
        seen: dict[Connection, str] = {}
        for _ in range(16):
            await pilot.press("r")
            await wait_for(pilot, lambda: app.session.account_poll.armed)
            await pilot.pause()
            seen.setdefault(panel.connection, connection_text(app))
            if Connection.OK in seen and Connection.STALE in seen:
                break
        assert set(seen) == {Connection.OK, Connection.STALE}, seen
        stale = seen[Connection.STALE]
        assert stale.startswith("◐ stale  data from") and "retry" in stale, stale
        assert "502 unknown technical error" in stale or "503 temporary" in stale, stale
        assert_no_crash(app)

        emulator.faults = Faults()
        await recover(pilot, app, fake_clock)
        assert_no_crash(app)


# --- 50,000 hosters --------------------------------------------------------------------


async def test_fifty_thousand_hosters(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    # The emulator takes about half a second to build the 15 MB answer.
    app = make_app(make_profile, emulator, fake_clock, timeout=10)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        emulator.faults = Faults(generated_hosters=50_000)
        started = time.monotonic()
        await pilot.press("r")
        # The list is parsed and its 50,000 patterns compiled off the UI thread;
        # how long a key waits meanwhile is a budget of the benchmarks
        # (bench_terminal.py, "hostile hosters are compiled"), not timed here.
        longest = 0.0
        while hoster_count(app) != "50000 of 50000":
            assert time.monotonic() - started < 45, hoster_count(app)
            before = time.monotonic()
            await pilot.pause(0.05)
            longest = max(longest, time.monotonic() - before)
        shown_in = time.monotonic() - started
        assert app.dashboard.account.connection is Connection.OK

        await pilot.press("2", "slash")
        search = app.query_one("#hoster-filter", Input)
        assert app.focused is search
        started = time.monotonic()
        search.value = "host04242"
        await wait_for(pilot, lambda: hoster_count(app) == "1 of 50000")
        search.value = "https://host04243.example.net/file/abc123"  # by link: the matcher
        await wait_for(pilot, lambda: hoster_count(app) == "1 of 50000")
        search.value = "example.net"  # every hoster has a TLD under it
        await wait_for(pilot, lambda: hoster_count(app) == "50000 of 50000")
        filtered_in = time.monotonic() - started
        search.value = ""
        await pilot.press("enter")  # leave the filter for the table, so r refreshes
        assert_no_crash(app)

        emulator.faults = Faults()
        await pilot.press("r")
        await wait_for(pilot, lambda: hoster_count(app).startswith("69 of 69"), timeout=30)
        assert_no_crash(app)
    print(
        f"50,000 hosters shown in {shown_in:.1f} s (UI stalled {longest:.2f} s at most), "
        f"three filters in {filtered_in:.1f} s"
    )
