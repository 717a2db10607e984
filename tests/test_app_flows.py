"""Pilot tests of the dashboard's flows against the emulator, with a fake clock.

Every test asserts on what the widgets hold (cells, counts, connection state,
clipboard), not only that nothing crashed.
"""

from __future__ import annotations

import asyncio
import io
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from deck import settle, wait_for
from rich.console import Console
from rich.text import Text
from textual import events
from textual.command import CommandList
from textual.pilot import Pilot
from textual.widgets import Input, Static, TextArea

from tui.api import ApiClient, Credentials
from tui.api.errors import STATUS_ERRORS
from tui.app import LinkdeckApp
from tui.core import Connection, Profile
from tui.core.events import AccountChanged
from tui.disk_cache import save_hosters
from tui.emulator import Emulator
from tui.screens.dashboard import DashboardScreen
from tui.screens.detail import ItemDetailScreen
from tui.screens.help import HelpScreen
from tui.screens.settings_form import SettingsScreen
from tui.unlock import FakeClock, Item, ItemState
from tui.widgets.account import AccountPanel
from tui.widgets.virtual_table import VirtualTable

SIZE = (120, 40)
DONE = "https://uploaded.net/file/abcd1234/holiday.zip"
MISSING = "https://uploaded.net/file/abcd2345/missing/gone.zip"
UNAVAILABLE = "https://share-online.biz/dl/ABCDEF123456"
UNSUPPORTED = "https://example.com/files/nobody-serves-this.zip"
BUSY = "https://uploaded.net/file/abcd3456/busy/later.zip"
FLAKY = "https://uploaded.net/file/abcd4567/flaky/third-time.zip"


def text_of(widget: Static) -> str:
    content = widget.content
    return content.plain if isinstance(content, Text) else str(content)


def cell(app: LinkdeckApp, item: Item, column: str) -> str:
    value = app.query_one("#log", VirtualTable).get_cell(str(item.id), column)
    return value.plain if isinstance(value, Text) else str(value)


def connection_text(app: LinkdeckApp) -> str:
    return text_of(app.query_one("#account-connection", Static))


def items_by_link(app: LinkdeckApp) -> dict[str, Item]:
    assert app.session.engine is not None
    return {item.link: item for item in app.session.engine.items.values()}


async def queue(pilot: Pilot[Any], app: LinkdeckApp, *links: str, **settle_args: bool) -> None:
    """Focus the unlock input with `u`, paste `links` one per line, press Enter,
    and wait until the engine has nothing left to send now."""
    await pilot.press("u")
    assert app.focused is app.query_one("#links")
    app.post_message(events.Paste("\n".join(links)))
    await pilot.pause()
    await pilot.press("enter")
    await settle(pilot, app, **settle_args)


def select(app: LinkdeckApp, item: Item) -> None:
    table = app.query_one("#log", VirtualTable)
    table.move_cursor(table.row_index(str(item.id)))


def hoster_names(app: LinkdeckApp) -> list[str]:
    return app.query_one("#hoster-table", VirtualTable).row_keys


# --- first run -------------------------------------------------------------


async def test_first_run_opens_settings_then_the_dashboard(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(None)
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SettingsScreen) and screen.first_run
        screen.query_one("#setting-api-url", Input).value = emulator.url
        screen.query_one("#setting-api-login", Input).value = "111111111"
        screen.query_one("#setting-api-password", Input).value = "1111"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await settle(pilot, app)
        panel = app.dashboard.account
        assert panel.account is not None and panel.account.type == "premium"
        assert connection_text(app).startswith("● ok")
        assert len(hoster_names(app)) == 69
    assert profile.config_path.exists()
    assert stat.S_IMODE(profile.config_path.stat().st_mode) == 0o600
    saved = profile.config_path.read_text()
    assert emulator.url in saved and "111111111" in saved


# --- hosters ---------------------------------------------------------------


async def test_filter_hosters_by_name_tld_and_link(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        count = app.query_one("#hoster-count", Static)
        # The default scenario serves one broken pattern on purpose.
        assert text_of(count) == "69 of 69"
        assert app.dashboard.hosters.border_subtitle == "1 bad pattern (rapidgator.net)"

        await pilot.press("2", "slash")  # `/` in the hosters filters them
        search = app.query_one("#hoster-filter", Input)
        assert app.focused is search
        await pilot.press("u", "p", "l")
        names = hoster_names(app)
        assert "uploaded.net" in names and len(names) < 69
        hosters = {h.name: h for h in app.session.hosters.hosters}
        for name in names:
            assert "upl" in name or any("upl" in tld for tld in hosters[name].tlds)
        assert text_of(count).startswith(f"{len(names)} of 69")

        search.value = "uploaded"
        await pilot.pause()
        assert hoster_names(app) == ["uploaded.net"]
        assert text_of(count).startswith("1 of 69")

        search.value = "ul.to"  # a TLD, not part of the name
        await pilot.pause()
        assert hoster_names(app) == ["uploaded.net"]

        search.value = DONE
        await pilot.pause()
        assert hoster_names(app) == ["uploaded.net"]
        assert text_of(count).startswith("1 of 69")

        search.value = UNSUPPORTED
        await pilot.pause()
        assert hoster_names(app) == []
        assert text_of(count) == "no hoster serves it"

        # Enter leaves the filter for the table; Escape too.
        search.value = ""
        await pilot.press("enter")
        assert app.focused is app.query_one("#hoster-table")
        assert len(hoster_names(app)) == 69


# --- unlocking -------------------------------------------------------------


async def test_paste_five_links_each_ends_in_its_state(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("u")
        links = [DONE, MISSING, UNAVAILABLE, UNSUPPORTED, BUSY]
        # A bracketed paste of many lines keeps every line.
        app.post_message(events.Paste("\n".join(links) + "\n"))
        await pilot.pause()
        assert app.query_one("#links", Input).value == " ".join(links)
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.query_one("#links", Input).value == ""

        items = items_by_link(app)
        assert set(items) == set(links)
        expected = {
            DONE: (ItemState.DONE, 200),
            MISSING: (ItemState.FAILED, 404),
            UNAVAILABLE: (ItemState.FAILED, 428),
            UNSUPPORTED: (ItemState.UNSUPPORTED, None),
            BUSY: (ItemState.WAITING, 503),
        }
        for link, (state, status) in expected.items():
            item = items[link]
            assert (item.state, item.status) == (state, status), link
            assert cell(app, item, "state").startswith(state.value)

        assert app.query_one("#log", VirtualTable).row_count == 5
        assert cell(app, items[DONE], "code") == "200 OK"
        assert cell(app, items[MISSING], "code").startswith("404")
        assert cell(app, items[UNAVAILABLE], "code").startswith("428")
        assert cell(app, items[UNAVAILABLE], "hoster") == "share-online.…"
        assert cell(app, items[UNSUPPORTED], "code").startswith("no hoster serve")
        assert cell(app, items[UNSUPPORTED], "hoster") == "-"
        assert cell(app, items[BUSY], "code").startswith("503")
        assert cell(app, items[BUSY], "state") == "waiting 3:00"
        location = items[DONE].location
        assert location and location.startswith(emulator.base_url + "/dl/")
        assert "…" in cell(app, items[DONE], "link")  # shortened in the table
        # The link no hoster serves never reached the service.
        assert UNSUPPORTED not in emulator.stats.requested_links
        # The 428 holds share-online.biz: its hoster row says so until 08:30.
        status = app.query_one("#hoster-table", VirtualTable).get_cell("share-online.biz", "status")
        assert str(status) == "down until 08:30"
        queue_line = text_of(app.query_one("#queue-line", Static))
        assert "1 done" in queue_line and "2 failed" in queue_line and "1 waiting" in queue_line


async def test_copy_one_link_and_all_links(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    other = "https://uploaded.net/file/bcde1234/second.zip"
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, DONE, MISSING, other)
        items = items_by_link(app)
        await pilot.press("escape")  # leave the input for the log
        assert app.focused is app.query_one("#log")
        select(app, items[DONE])
        await pilot.press("c")
        assert app.clipboard == items[DONE].location
        select(app, items[MISSING])
        await pilot.press("c")
        assert app.clipboard == items[DONE].location  # nothing to copy: unchanged
        await pilot.press("y")
        assert app.clipboard == f"{items[DONE].location}\n{items[other].location}"


async def test_command_palette_runs_the_dashboards_actions(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, DONE)
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.press(*"Copy all")
        await wait_for(pilot, lambda: app.screen.query_one(CommandList).option_count > 0)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.clipboard == items_by_link(app)[DONE].location)
        await pilot.press("ctrl+p")
        await pilot.press(*"Pause")
        await wait_for(pilot, lambda: app.screen.query_one(CommandList).option_count > 0)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session.engine is not None and app.session.engine.paused)


async def test_retry_cancel_and_detail_of_a_waiting_item(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, FLAKY, BUSY)
        await pilot.press("escape")
        items = items_by_link(app)
        flaky, busy = items[FLAKY], items[BUSY]
        assert flaky.state is busy.state is ItemState.WAITING
        assert cell(app, flaky, "state") == "waiting 3:00"

        # The countdown follows the clock; at its end the item is sent again.
        fake_clock.advance(60)
        await pilot.pause(1.1)  # the countdown cells tick once a second
        assert cell(app, flaky, "state") == "waiting 2:00"
        fake_clock.advance(120)
        await settle(pilot, app)
        flaky = items_by_link(app)[FLAKY]
        assert flaky.state is ItemState.WAITING and flaky.counted_attempts == 2
        assert cell(app, flaky, "state") == "waiting x2 3:00"

        # R sends it now: the third request of a flaky link succeeds.
        select(app, flaky)
        await pilot.press("R")
        await settle(pilot, app)
        flaky = items_by_link(app)[FLAKY]
        assert flaky.state is ItemState.DONE and flaky.counted_attempts == 3
        assert cell(app, flaky, "state") == "done x3"

        # x cancels the busy one.
        select(app, busy)
        await pilot.press("x")
        await pilot.pause()
        assert items_by_link(app)[BUSY].state is ItemState.CANCELLED
        assert cell(app, busy, "state") == "cancelled x2"

        # Enter opens the detail view with the whole direct link.
        select(app, flaky)
        await pilot.press("enter")
        assert isinstance(app.screen, ItemDetailScreen)
        await pilot.pause()
        location = app.screen.query_one("#detail-location", TextArea)
        assert flaky.location and location.text == flaky.location
        summary = text_of(app.screen.query_one("#detail-summary", Static))
        assert FLAKY in summary and "done" in summary
        attempts = text_of(app.screen.query_one("#detail-attempts", Static))
        assert attempts.count(" 503 ") == 2 and " 200 " in attempts
        await pilot.press("c")
        assert app.clipboard == flaky.location
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


# --- the account and the connection ----------------------------------------


async def cache_hosters(emulator: Emulator, profile) -> None:
    """A hoster list from an earlier run, as a user whose PIN changed has."""
    async with ApiClient(emulator.url, Credentials("111111111", "1111")) as client:
        hosters = await client.hoster_list()
    save_hosters(profile.hosters_cache_path, hosters, 0.0)


async def test_login_failure_then_fixing_the_pin(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator, pin="9999")
    await cache_hosters(emulator, profile)
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app, account=False)
        panel = app.dashboard.account
        assert panel.connection is Connection.LOGIN_FAILED
        assert "login failed" in connection_text(app)
        assert len(hoster_names(app)) == 69  # from the cache

        # A link queued now meets the 401: the queue pauses, the link waits.
        await queue(pilot, app, DONE, account=False)
        assert app.session.engine is not None and app.session.engine.paused
        assert items_by_link(app)[DONE].state is ItemState.PENDING
        assert "paused" in text_of(app.query_one("#queue-line", Static))

        await pilot.press("escape", "s")  # leave the links input first
        assert isinstance(app.screen, SettingsScreen) and not app.screen.first_run
        app.screen.query_one("#setting-api-password", Input).value = "1111"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await settle(pilot, app)
        assert panel.connection is Connection.OK
        assert panel.account is not None and panel.account.type == "premium"
        assert not app.session.engine.paused
        await wait_for(pilot, lambda: items_by_link(app)[DONE].state is ItemState.DONE)
        assert cell(app, items_by_link(app)[DONE], "state") == "done"
    assert stat.S_IMODE(profile.config_path.stat().st_mode) == 0o600


async def test_service_goes_away_and_comes_back(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        panel = app.dashboard.account
        emulator.stop()
        fake_clock.advance(120)
        await pilot.press("r")
        await wait_for(pilot, lambda: panel.connection is Connection.STALE)
        text = connection_text(app)
        assert "stale" in text and "data from 2 min ago" in text
        assert "retry 08:02" in text  # the first backoff is 15 s after 08:02:00
        assert panel.account is not None  # the last good data stays on screen
        assert "refresh failed" in text_of(app.query_one("#hoster-count", Static))

        emulator.restart()
        await pilot.press("r")
        await wait_for(pilot, lambda: panel.connection is Connection.OK)
        assert connection_text(app).startswith("● ok  refreshed 08:02")


async def test_unreachable_from_the_start_then_back(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    emulator.stop()
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app, account=False, hosters=False)
        panel = app.dashboard.account
        assert panel.connection is Connection.UNREACHABLE
        assert panel.account is None
        text = connection_text(app)
        assert "unreachable" in text and "retry 08:00" in text

        emulator.restart()
        await pilot.press("r")
        await settle(pilot, app)
        assert panel.connection is Connection.OK
        assert len(hoster_names(app)) == 69


async def test_cached_account_and_hosters_show_before_the_service_answers(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator)
    # A first session leaves the account and the hoster list in the cache.
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
    assert profile.account_cache_path.stat().st_mode & 0o777 == 0o600

    emulator.stop()
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app, account=False, hosters=False)
        panel = app.dashboard.account
        assert panel.account is not None and panel.account.account_name == "111111111"
        assert panel.connection is Connection.STALE
        assert "stale" in connection_text(app) and "data from" in connection_text(app)
        assert len(hoster_names(app)) == 69


# --- layout, help, export, keymap ------------------------------------------


async def test_small_terminal_switches_between_hosters_and_log(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        screen = app.dashboard
        account, hosters, unlock = screen.account, screen.hosters, screen.unlock

        def visible(widget) -> bool:
            region = widget.region
            return widget.display and region.height > 0 and region.bottom <= 24

        assert visible(account) and visible(unlock) and not hosters.display
        # The log has focus first, so every key works without leaving an input.
        assert app.focused is app.query_one("#log")
        assert visible(app.query_one("#log")) and visible(app.query_one("#links"))
        for line in ("#account-identity", "#account-expiry", "#account-connection"):
            assert visible(app.query_one(line))
        await pilot.press("2")
        assert visible(hosters) and not unlock.display
        assert app.focused is app.query_one("#hoster-table")
        assert visible(app.query_one("#hoster-filter"))
        await pilot.press("3")
        assert visible(unlock) and not hosters.display
        assert app.focused is app.query_one("#log")
        # `/` searches the log while it has focus, and the hosters from theirs.
        await pilot.press("slash")
        assert app.focused is app.query_one("#log-search")
        await pilot.press("escape", "2", "slash")
        assert hosters.display and app.focused is app.query_one("#hoster-filter")


async def test_help_lists_every_key_and_status_code(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=200, record=True, file=io.StringIO())
        console.print(app.screen.query_one("#help Static", Static).content)
        lines = console.export_text().splitlines()
        bindings = [*LinkdeckApp.BINDINGS, *DashboardScreen.BINDINGS]
        for binding in bindings:
            assert binding.id and binding.tooltip
            key = app.get_key_display(binding)
            assert any(
                key in line and binding.tooltip in line and binding.id in line for line in lines
            ), binding.id
        for status, error in STATUS_ERRORS.items():
            assert any(str(status) in line and error.meaning in line for line in lines), status
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


def help_text(app: LinkdeckApp) -> str:
    assert isinstance(app.screen, HelpScreen)
    console = Console(width=300, record=True, file=io.StringIO())
    console.print(app.screen.query_one("#help Static", Static).content)
    return console.export_text()


async def test_help_states_the_delays_of_the_current_settings(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator, unlock={"retry_delay": 90.0, "max_attempts": 3})
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        assert "retried after 90 seconds, up to 3 attempts" in help_text(app)
        await pilot.press("escape")
        unlock = replace(app.settings.unlock, retry_delay=7200.0, hoster_hold=60.0)
        await app.apply_settings(replace(app.settings, unlock=unlock))
        await pilot.press("question_mark")
        text = help_text(app)
        assert "retried after 2 hours, up to 3 attempts" in text
        assert "the other links of its hoster wait 1 minute" in text


async def test_export_writes_private_files(
    emulator: Emulator, make_profile, fake_clock: FakeClock, tmp_path: Path
) -> None:
    profile = make_profile(emulator)
    app = LinkdeckApp(profile, clock=fake_clock)
    folder: Path = tmp_path / "exports"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, DONE, MISSING)
        await pilot.press("escape", "e")
        await pilot.pause()
        app.screen.query_one("#export-folder", Input).value = str(folder)
        await pilot.press("enter")
        await wait_for(pilot, lambda: folder.exists() and len(list(folder.iterdir())) == 2)
        location = items_by_link(app)[DONE].location
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == [
        "linkdeck-20270115-080000-links.txt",
        "linkdeck-20270115-080000.jsonl",
    ]
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert files[0].read_text().split() == [location]
    lines = files[1].read_text().splitlines()
    assert len(lines) == 2 and DONE in files[1].read_text()


async def test_keymap_rebinds_copy(emulator: Emulator, make_profile, fake_clock: FakeClock) -> None:
    app = LinkdeckApp(make_profile(emulator, keymap={"copy-link": "k"}), clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, DONE)
        await pilot.press("escape")
        await pilot.press("c")
        assert app.clipboard == ""
        await pilot.press("k")
        assert app.clipboard == items_by_link(app)[DONE].location


async def test_what_the_session_says_while_the_app_closes_is_dropped(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock
) -> None:
    """The account's answer landing while the dashboard's widgets were being
    removed (leaves first) was a crash at quit: NoMatches in the account panel.
    Here the session says it again and again from the moment the panel has
    lost the part that shows the account until the app is closed."""
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    seen: list[AccountChanged] = []
    app.session.subscribe(lambda e: seen.append(e) if isinstance(e, AccountChanged) else None)
    said_while_closing = 0

    async def say_while_closing(panel: AccountPanel) -> None:
        nonlocal said_while_closing
        view = seen[-1].view
        assert view.account is not None
        while panel.is_attached:
            if not panel.query("#account-identity"):
                # A new account each time: a reactive set to what it holds
                # calls no watcher.
                said_while_closing += 1
                account = replace(view.account, fairuse_left=1 / (1 + said_while_closing))
                app.session._emit(AccountChanged(replace(view, account=account)))
            await asyncio.sleep(0)

    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: bool(seen))
        await settle(pilot, app)
        panel = app.query_one(AccountPanel)
        speaker = asyncio.create_task(say_while_closing(panel))
    await speaker
    assert said_while_closing


async def test_a_keymap_entry_that_names_no_binding_is_warned_of(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock
) -> None:
    """The example once documented, `unlock = "u"`, names no binding: said, with the closest id.
    The test ends right after: quitting before the first refresh lands is no crash either."""
    profile = make_profile(emulator, keymap={"unlock": "u", "copy-link": "ctrl+y"})
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:

        def warned() -> list[str]:
            return [n.message for n in app._notifications if "keymap.unlock" in n.message]

        await wait_for(pilot, lambda: bool(warned()))
        (warning,) = warned()
        assert "names no key binding" in warning and 'did you mean "focus-unlock"?' in warning
        assert not [n for n in app._notifications if "keymap.copy-link" in n.message]
