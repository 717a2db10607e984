"""A newcomer's hour with the dashboard, keyboard only, at 80x24 and 120x40:
what the footer says, what each key says when it does not apply, the words."""

from __future__ import annotations

import time
from typing import Any

import pytest
from deck import settle
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Button, Footer, Input, Select, Static, TextArea
from textual.widgets._footer import FooterKey
from textual.widgets._select import SelectOverlay

from tui.app import LinkdeckApp
from tui.emulator import Emulator
from tui.screens.detail import ItemDetailScreen
from tui.screens.hoster_detail import HosterDetailScreen
from tui.screens.settings_form import SettingsScreen
from tui.unlock import FakeClock
from tui.widgets.setting_row import SettingRow
from tui.widgets.virtual_table import VirtualTable

SMALL = (80, 24)


def footer_keys(app: LinkdeckApp) -> list[tuple[str, str]]:
    """The footer's keys as shown, (key, description), the palette's left out."""
    return [
        (key.key, key.description)
        for key in app.screen.query(FooterKey)
        if not key.has_class("-command-palette")
    ]


def visible_footer_keys(app: LinkdeckApp) -> list[str]:
    """The keys whose whole label fits on the screen, left of the palette's."""
    palette = app.screen.query_one(".-command-palette", FooterKey)
    return [
        key.key
        for key in app.screen.query(FooterKey)
        if not key.has_class("-command-palette") and key.region.right <= palette.region.x
    ]


async def footer_settled(pilot: Pilot[Any]) -> None:
    # The footer recomposes after a refresh.
    await pilot.pause()
    await pilot.pause()


async def test_the_footer_at_80_columns_shows_help_and_the_main_keys(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        await footer_settled(pilot)
        shown = visible_footer_keys(app)
        assert shown[0] == "question_mark"
        for key in ("question_mark", "u", "c", "R", "x", "p", "s", "r"):
            assert key in shown, shown


async def test_in_an_input_the_footer_says_what_enter_and_escape_do(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("u")
        await footer_settled(pilot)
        keys = footer_keys(app)
        assert keys[:2] == [("enter", "Unlock"), ("escape", "Back to the log")]
        assert "slash" not in dict(keys) and "u" not in dict(keys)
        await pilot.press("escape")
        assert app.focused is app.query_one("#log")

        await pilot.press("2", "slash")  # in the log, / searches the log
        search = app.query_one("#hoster-filter", Input)
        assert app.focused is search
        await footer_settled(pilot)
        assert footer_keys(app)[:2] == [("enter", "To the table"), ("escape", "To the table")]
        await pilot.press("u", "p", "l")
        await footer_settled(pilot)
        assert footer_keys(app)[1] == ("escape", "Clear")
        # The first Escape clears the filter, the second leaves it.
        await pilot.press("escape")
        assert search.value == "" and app.focused is search
        assert len(app.query_one("#hoster-table").row_keys) == 69
        await pilot.press("escape")
        assert app.focused is app.query_one("#hoster-table")

        await pilot.press("3", "slash")  # the log's search
        await footer_settled(pilot)
        assert footer_keys(app) == [("enter", "Keep"), ("escape", "Clear")]


async def test_the_filter_keeps_its_width_as_its_count_changes(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        search = app.query_one("#hoster-filter", Input)
        count = app.query_one("#hoster-count", Static)
        widths = set()
        for query in ("", "upl", "uploaded", "https://example.com/nobody.zip"):
            search.value = query
            await pilot.pause()
            widths.add((search.size.width, count.size.width))
        assert len(widths) == 1, widths


async def test_paused_says_so_once_and_the_footer_offers_resume(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await footer_settled(pilot)
        assert ("p", "Pause") in footer_keys(app)
        await pilot.press("p")
        await footer_settled(pilot)
        line = app.query_one("#queue-line", Static).content
        assert str(line).startswith("⏸ paused by you"), line
        assert ("p", "Resume") in footer_keys(app) and ("p", "Pause") not in footer_keys(app)
        await pilot.press("p")
        await footer_settled(pilot)
        assert str(app.query_one("#queue-line", Static).content).startswith("▶ running")
        assert ("p", "Pause") in footer_keys(app)


DONE = "https://uploaded.net/file/abcd1234/holiday.zip"


async def queue_links(pilot: Pilot[Any], app: LinkdeckApp, *links: str) -> None:
    await pilot.press("u")
    app.query_one("#links", Input).value = " ".join(links)
    await pilot.press("enter")
    await settle(pilot, app)
    await pilot.press("escape")


def log_cell(app: LinkdeckApp, column: str, row: int = -1) -> str:
    table = app.query_one("#log", VirtualTable)
    value = table.get_cell(table.row_keys[row], column)
    return value.plain if isinstance(value, Text) else str(value)


async def test_at_80_columns_the_log_shows_the_file_name_not_a_cut_link(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        await queue_links(pilot, app, DONE)
        table = app.query_one("#log", VirtualTable)
        assert [column.label for column in table.columns][-1] == "File"
        assert log_cell(app, "link") == "holiday.zip"
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert [column.label for column in table.columns][-1] == "Direct link"
        assert log_cell(app, "link").startswith("http")


def shown_columns(app: LinkdeckApp) -> dict[str, int]:
    table = app.query_one("#hoster-table", VirtualTable)
    widths = table.column_widths(table.scrollable_content_region.width)
    return {column.key: width for column, width in zip(table.columns, widths, strict=True) if width}


async def test_at_80_columns_the_hosters_show_connections_and_no_empty_status(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        await pilot.press("2")
        await pilot.pause()
        columns = shown_columns(app)
        # No hoster has a status yet: no empty column holds the room.
        assert "status" not in columns
        table = app.query_one("#hoster-table", VirtualTable)
        connections = str(table.get_cell("1fichier.com", "connections"))
        assert columns["connections"] >= len(connections), columns
        assert columns["patterns"] >= len("Patterns") and columns["tlds"] >= 12


MISSING = "https://uploaded.net/file/abcd2345/missing/gone.zip"


def toasts(app: LinkdeckApp) -> list[str]:
    return [notification.message for notification in app._notifications]


async def test_a_key_that_does_not_apply_says_why_and_the_detail_disables_its_button(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        await queue_links(pilot, app, MISSING, DONE)
        app.clear_notifications()
        await pilot.press("R", "x")
        assert toasts(app) == [
            "Nothing to retry: this item is done",
            "Nothing to cancel: this item is done already",
        ]
        app.clear_notifications()
        await pilot.press("up", "c")
        assert toasts(app) == ["No direct link: this item failed"]
        await pilot.press("enter")
        assert isinstance(app.screen, ItemDetailScreen)
        await pilot.pause()
        disabled = {button.id for button in app.screen.query(Button) if button.disabled}
        # The download's buttons: tests/test_dashboard_downloads.py.
        assert {name for name in disabled if not (name or "").startswith("download-")} == {
            "copy",
            "cancel",
            "force",
        }
        location = app.screen.query_one("#detail-location", TextArea)
        assert str(location.placeholder) == "No direct link: this item failed"


async def test_the_settings_form_names_a_setting_by_its_label(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, SettingsScreen) and not screen.first_run
        interval = screen.query_one("#setting-refresh-hosters_interval", Input)
        interval.value = "0"
        await pilot.pause()
        rows = {row.field.key: row for row in screen.query(SettingRow)}
        error = rows["refresh.hosters_interval"].error
        assert error == "Hosters interval (refresh.hosters_interval) must be greater than 0, not 0"
        interval.value = "3600"
        screen.query_one("#setting-api-password", Input).value = ""
        await pilot.press("ctrl+s")
        await pilot.pause()
        # No "More settings" outside the first run: the PIN's error does not point there.
        assert rows["api.password"].error == "PIN (api.password) is needed, or a PIN command"


UNAVAILABLE = "https://share-online.biz/dl/ABCDEF123456"
HELD = "https://share-online.biz/dl/ABCDEF654321"


async def test_a_held_item_says_why_and_until_when(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        # After the 428, share-online.biz is held: its next link waits.
        await queue_links(pilot, app, UNAVAILABLE)
        await queue_links(pilot, app, HELD)
        assert log_cell(app, "state").startswith("held")
        until = app.session.engine.queue_state.hoster_holds["share-online.biz"]
        clock = time.strftime("%H:%M", time.localtime(until))
        assert log_cell(app, "state") == f"held till {clock}"
        assert log_cell(app, "code") == "hoster down"
        await pilot.press("enter")
        assert isinstance(app.screen, ItemDetailScreen)
        await pilot.pause()
        summary = str(app.screen.query_one("#detail-summary", Static).content)
        assert f"held: hoster down until {clock}" in summary


FLAKY = "https://uploaded.net/file/abcd4567/flaky/third-time.zip"


async def test_a_failed_item_says_it_gave_up_after_its_attempts(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator, unlock={"max_attempts": 2}), clock=fake_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        # A flaky link answers 503 twice: with two attempts allowed, it ends.
        await queue_links(pilot, app, FLAKY)
        fake_clock.advance(180)
        await settle(pilot, app)
        assert log_cell(app, "state") == "gave up after 2"
        await pilot.press("enter")
        await pilot.pause()
        summary = str(app.screen.query_one("#detail-summary", Static).content)
        assert "gave up after 2 attempts" in summary


UNSUPPORTED = "https://example.com/files/nobody-serves-this.zip"


async def test_the_words_of_a_newcomers_hour(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    # A prepaid account with no end: not "expires no expiry".
    app = LinkdeckApp(make_profile(emulator, login="444444444", pin="4444"), clock=fake_clock)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        assert str(app.query_one("#account-expiry", Static).content) == "no expiry"
        app.clear_notifications()
        await queue_links(pilot, app, UNSUPPORTED)
        # Enter opens the item; f, there, forces it.
        assert (
            "Queued 1 link(s); no hoster serves 1 (open one with Enter, then f forces it)"
            in toasts(app)
        )


async def test_enter_on_a_hoster_opens_its_detail(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        await queue_links(pilot, app, DONE)
        await pilot.press("2", "slash")
        app.query_one("#hoster-filter", Input).value = "rapidgator"
        await pilot.press("enter", "enter")
        assert isinstance(app.screen, HosterDetailScreen)
        text = str(app.screen.query_one("#hoster-detail-text", Static).content)
        hoster = next(h for h in app.session.hosters.hosters if h.name == "rapidgator.net")
        for tld in hoster.tlds:
            assert tld in text
        for pattern in hoster.regexes:
            assert pattern in text
        assert "skipped: " in text  # its broken pattern, and why
        assert "per file" in text and "no unlock of its links yet" in text
        await pilot.press("escape")
        assert app.screen is app.dashboard

        # A hoster with an unlock lists it, and its status.
        await pilot.press("slash")
        app.query_one("#hoster-filter", Input).value = "uploaded.net"
        await pilot.press("enter", "enter")
        text = str(app.screen.query_one("#hoster-detail-text", Static).content)
        assert "holiday.zip" in text and "ok, last unlock" in text


async def test_the_theme_list_stays_above_the_footer_at_80x24(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        theme = screen.query_one("#setting-ui-theme", Select)
        # From the field above it: the theme is then on the form's last line.
        screen.query_one("#setting-warnings-expiry_days_below").focus()
        await pilot.pause()
        await pilot.press("tab")
        await pilot.pause()
        assert screen.focused is theme
        await pilot.press("enter")
        await pilot.pause()
        assert theme.expanded
        overlay = theme.query_one(SelectOverlay)
        footer = screen.query_one(Footer)
        assert overlay.region.bottom <= footer.region.y, (overlay.region, footer.region)


async def test_a_theme_chosen_in_the_palette_is_saved(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator)
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.theme = "nord"  # what the palette's "Change theme" does
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.settings.ui.theme == "nord"
        assert 'theme = "nord"' in profile.config_path.read_text()


async def test_a_theme_that_cannot_be_saved_says_why(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator)
    profile.config_path.unlink(missing_ok=True)
    profile.config_path.mkdir(parents=True)  # a folder where the file should be
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        app.theme = "nord"
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any(message.startswith("Theme not saved: ") for message in toasts(app))


async def test_paused_at_80_columns_the_footer_still_shows_refresh(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        await pilot.press("p")
        await footer_settled(pilot)
        shown = visible_footer_keys(app)
        assert "p" in shown and "r" in shown, shown


@pytest.mark.parametrize("width", [80, 97, 113, 120, 131])
async def test_the_footer_shows_whole_keys_only(
    emulator: Emulator, make_profile, fake_clock: FakeClock, width: int
) -> None:
    # A key that does not fit is left out ("/ S▏" at 120 columns read as nothing).
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=(width, 40)) as pilot:
        await settle(pilot, app)
        for region in ("3", "2"):
            await pilot.press(region)
            await footer_settled(pilot)
            shown = visible_footer_keys(app)
            assert shown[0] == "question_mark"
            assert shown == [key for key, _ in footer_keys(app)]
