"""The log as a workspace: `/` searches it (words and states), `o` and `O` sort
it, its title says what it shows; a search stays while items change."""

from __future__ import annotations

from dataclasses import replace

from deck import settle, wait_for
from textual import events
from textual.command import CommandList
from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import LinkdeckApp
from tui.core import Profile
from tui.emulator import Emulator
from tui.unlock import FakeClock
from tui.unlock.history import History
from tui.unlock.items import Item, ItemState
from tui.widgets.virtual_table import VirtualTable

SIZE = (120, 40)
T0 = 1_800_000_000.0


def ended(link: str, state: ItemState, hoster: str, **fields: object) -> Item:
    return Item(id=0, link=link, hoster=hoster, state=state, created=T0, updated=T0, **fields)  # type: ignore[arg-type]


LOG = [
    ended("https://uploaded.net/file/a1/Holiday.zip", ItemState.DONE, "uploaded.net",
          filename="Holiday.zip", location="https://dl.example/Holiday.zip"),
    ended("https://rapidgator.net/file/b2", ItemState.FAILED, "rapidgator.net",
          status=404, message="404 file not found"),
    ended("https://1fichier.com/?c3", ItemState.DONE, "1fichier.com",
          filename="Archive.7z", location="https://dl.example/Archive.7z"),
    ended("https://uploaded.net/file/d4/broken", ItemState.FAILED, "uploaded.net",
          status=503, message="503 busy"),
]  # fmt: skip


def with_log(profile: Profile) -> list[Item]:
    with History(profile.history_path) as history:
        return history.insert(LOG)


def shown(app: LinkdeckApp) -> list[str]:
    table = app.query_one("#log", VirtualTable)
    return [app.session.item(int(key)).link for key in table.row_keys]  # type: ignore[union-attr]


def title(app: LinkdeckApp) -> str:
    return str(app.dashboard.unlock.border_title)


async def test_slash_in_the_log_searches_it_and_esc_clears_it(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator)
    with_log(profile)
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert app.focused is app.query_one("#log")
        await pilot.press("slash")
        box = app.query_one("#log-search", Input)
        assert app.focused is box and box.display
        await pilot.press(*"holi")
        assert shown(app) == [LOG[0].link]
        assert title(app) == "Unlock · 1 of 4 · filter: holi"
        await pilot.press("escape")
        assert len(shown(app)) == 4
        assert title(app) == "Unlock"
        assert app.focused is app.query_one("#log") and not box.display


async def test_states_words_enter_keeps_and_the_answer_is_searched(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator)
    with_log(profile)
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("slash", *"state:failed")
        assert shown(app) == [LOG[1].link, LOG[3].link]
        await pilot.press("space", *"busy")
        assert shown(app) == [LOG[3].link]
        assert title(app) == "Unlock · 1 of 4 · filter: busy · state: failed"
        await pilot.press("enter")  # kept, back to the table
        assert app.focused is app.query_one("#log")
        assert shown(app) == [LOG[3].link]
        await pilot.press("slash")  # opens again with the search as it was
        assert app.query_one("#log-search", Input).value == "state:failed busy"
        await pilot.press("enter", "escape")  # on the table, as in k9s: the filter goes
        assert len(shown(app)) == 4 and title(app) == "Unlock"
        assert app.focused is app.query_one("#log")


async def test_slash_elsewhere_still_filters_the_hosters(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("2", "slash")
        assert app.focused is app.query_one("#hoster-filter")


async def test_sort_keys_change_the_order_and_the_title(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator)
    with_log(profile)
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("o")  # by hoster
        assert shown(app) == [LOG[2].link, LOG[1].link, LOG[0].link, LOG[3].link]
        assert title(app) == "Unlock · sort: hoster ↑"
        await pilot.press("O")
        assert shown(app) == [LOG[3].link, LOG[0].link, LOG[1].link, LOG[2].link]
        assert title(app) == "Unlock · sort: hoster ↓"
        await pilot.press("slash", *"uploaded", "enter")
        assert shown(app) == [LOG[3].link, LOG[0].link]
        assert title(app) == "Unlock · 2 of 4 · filter: uploaded · sort: hoster ↓"
        await pilot.press("o")  # by state, upwards again: done before failed
        assert shown(app) == [LOG[0].link, LOG[3].link]
        assert title(app) == "Unlock · 2 of 4 · filter: uploaded · sort: state ↑"
        await pilot.press("O")
        assert shown(app) == [LOG[3].link, LOG[0].link]


async def test_an_item_that_changes_comes_and_goes_with_the_search(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator)
    stored = with_log(profile)
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("slash", *"state:failed", "enter")
        assert shown(app) == [LOG[1].link, LOG[3].link]
        # Another process changes the history: the dashboard follows it.
        with History(profile.history_path) as other:
            failed = other.get(stored[1].id)
            assert failed is not None
            other.update(replace(failed, state=ItemState.DONE, message="ok"))
            done = other.get(stored[0].id)
            assert done is not None
            other.update(replace(done, state=ItemState.FAILED, message="gone"))
        assert app.session.engine is not None
        app.session.engine._follow_history()  # its next look, without waiting for it
        await pilot.pause()
        await pilot.pause()
        assert shown(app) == [LOG[3].link, LOG[0].link]
        assert title(app).startswith("Unlock · 2 of 4")


async def run_from_palette(pilot: Pilot[None], app: LinkdeckApp, name: str) -> None:
    await pilot.press("ctrl+p", *name)
    await wait_for(pilot, lambda: app.screen.query_one(CommandList).option_count > 0)
    while app.screen is not app.dashboard:  # the first enter may only highlight it
        await pilot.press("enter")


async def test_the_palette_searches_and_sorts_the_log_from_anywhere(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator)
    with_log(profile)
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("2")
        await run_from_palette(pilot, app, "Sort")
        await wait_for(pilot, lambda: title(app) == "Unlock · sort: hoster ↑")
        await pilot.press("2")
        await run_from_palette(pilot, app, "Search")
        await wait_for(pilot, lambda: app.focused is app.query_one("#log-search"))
        await pilot.press("escape")
        await run_from_palette(pilot, app, "Filter")  # the hosters', from the log
        await wait_for(pilot, lambda: app.focused is app.query_one("#hoster-filter"))


async def test_links_queued_while_filtered_show_if_they_match(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator)
    with_log(profile)
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("slash", *"holiday", "enter")
        assert shown(app) == [LOG[0].link]
        await pilot.press("u")
        fresh = "https://uploaded.net/file/abcd1234/another-holiday.zip"
        other = "https://uploaded.net/file/abcd9876/work.zip"
        app.post_message(events.Paste(f"{fresh}\n{other}"))
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot, app)
        assert shown(app) == [LOG[0].link, fresh]
        assert title(app).startswith("Unlock · 2 of 6")


async def test_the_search_key_is_rebound_by_its_id(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator, keymap={"search-log": "ctrl+f", "sort-log": "S"})
    with_log(profile)
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("S")
        assert title(app) == "Unlock · sort: hoster ↑"
        await pilot.press("ctrl+f")
        assert app.focused is app.query_one("#log-search")
        # `/` is the hosters' filter's alone now, in the log too (Textual would
        # drop a key's every binding when one of them is rebound).
        await pilot.press("escape", "slash")
        assert app.focused is app.query_one("#hoster-filter")


async def test_the_hosters_filter_rebound_leaves_slash_to_the_log(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator, keymap={"filter-hosters": "f"}), clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("slash")
        assert app.focused is app.query_one("#log-search")
        await pilot.press("escape", "f")
        assert app.focused is app.query_one("#hoster-filter")


async def test_a_key_on_a_log_the_search_empties_says_so(
    emulator: Emulator, make_profile, fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator)
    with_log(profile)
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("slash", *"zzzzqq", "enter", "R")
        await pilot.pause()
        said = [n.message for n in app._notifications]
        assert "The search shows no item (Escape clears it)" in said, said
