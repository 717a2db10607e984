"""Every API call has a deadline for the whole of it: connect, headers and body.

A server of the test's own (tests/dribble.py) trickles its headers, a
Content-Length body, a chunked body, or sends a body that never ends, each piece
well within any per-read timeout. With `timeout = 1` every call must end as a
temporary "service unreachable" error soon after one second: for the client
itself, for `linkdeck status` and `linkdeck unlock` in subprocesses, and in the
dashboard, whose account panel leaves "refreshing…", whose unlock slot is freed
and whose poll re-arms.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from commandline import isolated_env, one_sentence
from deck import settle, wait_for
from dribble import HOSTER_LINK, MODES, DribblingServer
from rich.text import Text
from textual import events
from textual.pilot import Pilot
from textual.widgets import Static

from tui.api import ApiClient, Credentials, TransportError
from tui.app import LinkdeckApp
from tui.core import Connection
from tui.unlock import FakeClock, ItemState
from tui.unlock.policy import RETRY, rule_for

DEADLINE = 1.0
SENTENCE = "timed out: no complete answer within 1 s"
CLI_BOUND = 15.0
"""Generous for a start of Python on a busy machine; a call without a deadline
would still be reading when the server's trickle ends after 60 s."""


# --- the client -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_every_call_ends_at_the_deadline(mode: str) -> None:
    with DribblingServer(mode) as server:
        client = ApiClient(server.url, Credentials("111111111", "1111"), timeout=DEADLINE)
        async with client, asyncio.timeout(20):  # the test's own bound: old code hangs
            started = time.monotonic()
            calls = (
                client.account_status(),
                client.hoster_list(),
                client.direct_download_link(HOSTER_LINK),
            )
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            elapsed = time.monotonic() - started
            # The client hung up on each trickle (it is still open: no pool kept them).
            gone_by = time.monotonic() + 10
            while server.abandoned < 3:
                assert time.monotonic() < gone_by, server.abandoned
                await asyncio.sleep(0.05)
        for outcome in outcomes:
            assert isinstance(outcome, TransportError), outcome
            assert rule_for(outcome) is RETRY
            assert SENTENCE in str(outcome)
        assert DEADLINE <= elapsed < DEADLINE + 4, elapsed
        assert sorted(server.calls) == ["accountstatus", "directdownloadlink", "hosterlist"]


async def test_a_new_timeout_applies_to_the_next_call() -> None:
    with DribblingServer("chunked-body") as server:
        client = ApiClient(server.url, Credentials("111111111", "1111"), timeout=60)
        async with client, asyncio.timeout(20):
            client.timeout = 0.5
            started = time.monotonic()
            with pytest.raises(TransportError, match=r"no complete answer within 0\.5 s"):
                await client.account_status()
            assert time.monotonic() - started < 4


async def test_an_answer_in_time_is_not_cut() -> None:
    with DribblingServer(None) as server:
        async with ApiClient(server.url, Credentials("111111111", "1111"), timeout=5) as client:
            account = await client.account_status()
    assert account.account_name == "slowpoke"


# --- the commands -----------------------------------------------------------------


def run_linkdeck(
    tmp_path: Path, url: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    config = tmp_path / "config.toml"
    config.write_text(f'[api]\nurl = "{url}"\nlogin = "111111111"\ntimeout = {DEADLINE}\n')
    config.chmod(0o600)
    env = isolated_env(tmp_path, LINKDECK_PASSWORD="1111")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "tui", *args, "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=40,
    )
    return result, time.monotonic() - started


def run_each(
    tmp_path: Path, runs: dict[str, tuple[DribblingServer, list[str]]]
) -> dict[str, tuple[subprocess.CompletedProcess[str], float]]:
    """The runs two at a time (the machine's cores), each in its own directory."""

    def one(name: str) -> tuple[subprocess.CompletedProcess[str], float]:
        server, args = runs[name]
        folder = tmp_path / name
        folder.mkdir()
        return run_linkdeck(folder, server.url, *args)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(runs, pool.map(one, runs), strict=True))


def test_status_ends_at_the_deadline(tmp_path: Path) -> None:
    servers = {mode: DribblingServer(mode) for mode in MODES}
    for server in servers.values():
        server.__enter__()
    try:
        results = run_each(tmp_path, {m: (s, ["status"]) for m, s in servers.items()})
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)
    for mode, (result, elapsed) in results.items():
        line = one_sentence(result, 4)
        assert line == f"linkdeck: the service is unreachable: {SENTENCE}", (mode, line)
        assert result.stdout == "" and "1111" not in result.stderr
        assert elapsed < CLI_BOUND, (mode, elapsed)


def test_unlock_ends_at_the_deadline(tmp_path: Path) -> None:
    """A slow hoster list ends the command with one sentence; a slow unlock
    leaves the link waiting for its retry (exit 4: no answer came)."""
    slow_unlock = frozenset({"directdownloadlink"})
    servers = {
        "slow hoster list": DribblingServer("headers"),
        **{mode: DribblingServer(mode, slow_methods=slow_unlock) for mode in MODES},
    }
    for server in servers.values():
        server.__enter__()
    try:
        results = run_each(tmp_path, {n: (s, ["unlock", HOSTER_LINK]) for n, s in servers.items()})
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)
    for name, (result, elapsed) in results.items():
        assert elapsed < CLI_BOUND, (name, elapsed)
        assert "1111" not in result.stdout + result.stderr
        if name == "slow hoster list":
            line = one_sentence(result, 4)
            assert line == f"linkdeck: the service is unreachable: {SENTENCE}", line
            assert servers[name].calls == ["hosterlist"]
            continue
        assert result.returncode == 4, (name, result.returncode, result.stderr)
        # Only where the waiting link goes from here: no traceback, no second sentence.
        assert result.stderr.startswith("linkdeck: 1 link(s) wait for a retry and stay queued")
        assert len(result.stderr.splitlines()) == 1, (name, result.stderr)
        (line,) = result.stdout.splitlines()
        assert line.startswith("waiting") and HOSTER_LINK in line, (name, line)
        assert SENTENCE in line and "(retry at " in line, (name, line)
        assert servers[name].calls == ["hosterlist", "directdownloadlink"], name


# --- the dashboard ----------------------------------------------------------------

LINKS = (
    "https://uploaded.net/file/slow0001/one.zip",
    "https://uploaded.net/file/slow0002/two.zip",
)


def connection_text(app: LinkdeckApp) -> str:
    content = app.query_one("#account-connection", Static).content
    return content.plain if isinstance(content, Text) else str(content)


def hoster_count(app: LinkdeckApp) -> str:
    content = app.query_one("#hoster-count", Static).content
    return content.plain if isinstance(content, Text) else str(content)


def make_app(
    make_profile: Callable[..., Any], server: DribblingServer, clock: FakeClock, timeout: float
) -> LinkdeckApp:
    # One unlock at a time: the second link is sent only once the first slot is free.
    profile = make_profile(server, api={"timeout": timeout}, unlock={"concurrency": 1})
    return LinkdeckApp(profile, clock=clock)


def assert_shows_deadline(app: LinkdeckApp) -> None:
    """The reason on screen (cut to the panel's width) and in full."""
    assert "timed out: no complete answer" in connection_text(app), connection_text(app)
    assert SENTENCE in app.dashboard.account.problem


def assert_poll_rearmed(app: LinkdeckApp) -> None:
    assert app.session.account_poll.armed and app.session.account_poll.failures >= 1


async def queue_links(pilot: Pilot[Any], app: LinkdeckApp, *links: str) -> None:
    await pilot.press("u")
    app.post_message(events.Paste("\n".join(links)))
    await pilot.pause()
    await pilot.press("enter")
    await pilot.press("escape")


@pytest.mark.parametrize("mode", MODES)
async def test_dashboard_from_the_start(
    mode: str, make_profile: Callable[..., Any], fake_clock: FakeClock
) -> None:
    with DribblingServer(mode) as server:
        app = make_app(make_profile, server, fake_clock, DEADLINE)
        async with app.run_test(size=(120, 40)) as pilot:
            panel = app.dashboard.account
            await wait_for(pilot, lambda: panel.connection is Connection.UNREACHABLE, 10)
            assert connection_text(app).startswith("✗ unreachable")
            assert_shows_deadline(app)
            await wait_for(pilot, lambda: "refresh failed" in hoster_count(app), 10)
            await wait_for(pilot, lambda: app.session.account_poll.armed)
            assert_poll_rearmed(app)


@pytest.mark.parametrize("mode", MODES)
async def test_dashboard_after_a_good_start(
    mode: str, make_profile: Callable[..., Any], fake_clock: FakeClock
) -> None:
    with DribblingServer(None) as server:
        app = make_app(make_profile, server, fake_clock, DEADLINE)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, app)
            panel = app.dashboard.account
            server.mode = mode
            server.slow_methods = frozenset({"accountstatus", "directdownloadlink"})

            await queue_links(pilot, app, *LINKS)
            assert app.session.engine is not None
            engine = app.session.engine
            await wait_for(pilot, lambda: len(engine.items) == 2)
            # Both links end waiting for their retry: the slot of the first was freed.
            await wait_for(
                pilot,
                lambda: all(i.state is ItemState.WAITING for i in engine.items.values()),
                timeout=10,
            )
            for item in engine.items.values():
                assert SENTENCE in item.message, item.message
            assert server.calls.count("directdownloadlink") == 2

            await pilot.press("r")
            await wait_for(pilot, lambda: panel.connection is Connection.REFRESHING)
            await wait_for(pilot, lambda: panel.connection is Connection.STALE, 10)
            assert_shows_deadline(app)
            await wait_for(pilot, lambda: app.session.account_poll.armed)
            assert_poll_rearmed(app)


async def test_dashboard_takes_a_new_timeout_at_once(
    make_profile: Callable[..., Any], fake_clock: FakeClock
) -> None:
    """Saved settings reconnect: a shorter timeout ends the next call by it."""
    with DribblingServer(None) as server:
        app = make_app(make_profile, server, fake_clock, timeout=60)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, app)
            panel = app.dashboard.account
            server.mode = "length-body"
            api = replace(app.settings.api, timeout=DEADLINE)
            started = time.monotonic()
            await app.apply_settings(replace(app.settings, api=api))
            await wait_for(pilot, lambda: panel.connection is Connection.STALE, 10)
            assert time.monotonic() - started < 8
            assert_shows_deadline(app)
