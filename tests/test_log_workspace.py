"""Pilot tests of the log as a workspace: selections and bulk actions, retry
every failed, clear finished, the batch's bar and its end, exports to a chosen
path, what a paste left out, and quitting with links in flight."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from deck import settle, wait_for
from test_app_flows import (
    BUSY,
    DONE,
    MISSING,
    SIZE,
    UNAVAILABLE,
    items_by_link,
    queue,
    select,
    text_of,
)
from textual.command import CommandList
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tui.app import LinkdeckApp
from tui.core import Profile
from tui.emulator import Emulator
from tui.screens.dashboard import DashboardScreen
from tui.unlock import FakeClock, ItemState
from tui.widgets.virtual_table import VirtualTable

OTHER = "https://uploaded.net/file/bcde1234/second.zip"


def toasts(app: LinkdeckApp) -> list[str]:
    return [notification.message for notification in app._notifications]


def marked(app: LinkdeckApp) -> set[str]:
    return set(app.query_one("#log", VirtualTable).marked)


async def palette(pilot: Pilot[Any], app: LinkdeckApp, command: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.press(*command)
    await wait_for(pilot, lambda: app.screen.query_one(CommandList).option_count > 0)
    await pilot.press("enter")
    await pilot.pause()


# --- bug 5: what a paste left out ---------------------------------------------


async def test_a_paste_says_which_lines_were_no_links_and_which_were_repeated(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, DONE, "just words", DONE, "ftp://old.example/x", OTHER)
        await wait_for(pilot, lambda: any("Queued 2" in text for text in toasts(app)))
        (said,) = [text for text in toasts(app) if "Queued 2" in text]
        assert "3 word(s) hold no http(s) link and were skipped: just; words; ftp://old" in said
        assert f"1 link(s) were given more than once and are sent once: {DONE}" in said


# --- bug 8: exports ask where ---------------------------------------------------


async def export_to(pilot: Pilot[Any], app: LinkdeckApp, folder: Path) -> None:
    from tui.screens.export_path import ExportPathScreen

    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(app.screen, ExportPathScreen))
    box = app.screen.query_one(Input)
    assert box.value  # a default is offered
    box.value = str(folder)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
    await wait_for(pilot, lambda: any("Export" in text for text in toasts(app)))


async def test_export_asks_for_a_folder_and_writes_there(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock, tmp_path: Path
) -> None:
    profile = make_profile(emulator)
    app = LinkdeckApp(profile, clock=fake_clock)
    chosen = tmp_path / "chosen"
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, DONE, MISSING)
        # Escape leaves the question: nothing is written.
        await pilot.press("escape", "e")
        await pilot.pause()
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await export_to(pilot, app, chosen)
    assert not (profile.data_dir / "exports").exists()
    names = sorted(path.name for path in chosen.iterdir())
    assert names == ["linkdeck-20270115-080000-links.txt", "linkdeck-20270115-080000.jsonl"]


async def test_an_export_that_cannot_be_written_says_why(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, DONE)
        await pilot.press("escape")
        await export_to(pilot, app, blocker / "inside")
        assert any(text.startswith("Export failed: ") for text in toasts(app))
        await export_to(pilot, app, blocker)
        said = f"Export failed: {blocker} is a file, not a folder"
        await wait_for(pilot, lambda: said in toasts(app))
    assert blocker.read_text() == "not a folder"


def test_the_demos_export_lands_in_the_chosen_folder_and_outlives_it(tmp_path: Path) -> None:
    import asyncio

    from tui.core.profile import open_profile

    chosen = tmp_path / "from-the-demo"

    async def run(profile: Profile) -> None:
        app = LinkdeckApp(profile)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(pilot, app)
            await queue(pilot, app, DONE)
            await pilot.press("escape")
            await export_to(pilot, app, chosen)

    with open_profile(None, {}, demo=True) as profile:
        asyncio.run(run(profile))
        demo_root = profile.data_dir.parent
    assert not demo_root.exists()
    assert len(list(chosen.glob("linkdeck-*.jsonl"))) == 1


# --- selections and bulk actions ------------------------------------------------


async def test_select_rows_and_act_on_them_at_once(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock, tmp_path: Path
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, DONE, MISSING, UNAVAILABLE, OTHER)
        items = items_by_link(app)
        await pilot.press("escape")
        select(app, items[DONE])
        await pilot.press("space", "shift+down", "shift+down")
        ids = {str(items[link].id) for link in (DONE, MISSING, UNAVAILABLE)}
        assert marked(app) == ids
        assert str(app.dashboard.unlock.border_title) == "Unlock · 3 marked"
        table = app.query_one("#log", VirtualTable)
        assert table.get_row(str(items[DONE].id))  # drawn with its mark
        # The two failed are retried (and fail again); the done one is said.
        app.clear_notifications()
        await pilot.press("R")
        await wait_for(pilot, lambda: any(text.startswith("Retried 2") for text in toasts(app)))
        assert "Retried 2; 1 was done already" in toasts(app)
        # Copy takes the direct links of the selection only.
        await pilot.press("c")
        assert app.clipboard == items[DONE].location
        # Space on a marked row unmarks it; `*` marks every shown row, again clears.
        await pilot.press("space")
        assert len(marked(app)) == 2
        await pilot.press("asterisk")
        assert len(marked(app)) == 4
        await pilot.press("asterisk")
        assert marked(app) == set()
        await pilot.press("asterisk", "escape")
        assert marked(app) == set() and str(app.dashboard.unlock.border_title) == "Unlock"
        # Export of a selection exports only it.
        select(app, items[OTHER])
        await pilot.press("space")
        await export_to(pilot, app, tmp_path / "sel")
        (jsonl,) = (tmp_path / "sel").glob("*.jsonl")
        assert jsonl.read_text().count("\n") == 1 and OTHER in jsonl.read_text()
        (links,) = (tmp_path / "sel").glob("*-links.txt")
        assert links.read_text().split() == [items_by_link(app)[OTHER].location]
        # Remove takes the selection out of the log and the history.
        await pilot.press("delete")
        await wait_for(pilot, lambda: OTHER not in items_by_link(app))
        assert marked(app) == set()
        assert table.row_count == 3


async def test_cancel_a_selection_says_what_was_not_cancelled(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, DONE, BUSY)
        await pilot.press("escape", "asterisk", "x")
        assert items_by_link(app)[BUSY].state is ItemState.CANCELLED
        assert "Cancelled 1; 1 was done already" in toasts(app)


# --- retry every failed, clear finished -------------------------------------------


async def test_retry_every_failed_and_clear_finished(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, DONE, MISSING, UNAVAILABLE, BUSY)
        await pilot.press("escape")
        attempts = {link: len(item.attempts) for link, item in items_by_link(app).items()}
        await pilot.press("F")
        await wait_for(pilot, lambda: any(text.startswith("Retried 2") for text in toasts(app)))
        await settle(pilot, app)
        after = items_by_link(app)
        assert len(after[MISSING].attempts) == attempts[MISSING] + 1
        assert len(after[DONE].attempts) == attempts[DONE]
        await palette(pilot, app, "Clear finished")
        await wait_for(pilot, lambda: DONE not in items_by_link(app))
        assert set(items_by_link(app)) == {MISSING, UNAVAILABLE, BUSY}
        assert app.query_one("#log", VirtualTable).row_count == 3
        assert any(text.startswith("Cleared 1 finished") for text in toasts(app))


# --- the batch ----------------------------------------------------------------------


async def test_the_batch_bar_and_its_end_ring_and_notify(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        written: list[str] = []
        driver = app._driver
        assert driver is not None
        real_write = driver.write
        driver.write = lambda data: (written.append(data), real_write(data))[1]  # type: ignore[method-assign]
        await settle(pilot, app)
        await queue(pilot, app, DONE, MISSING, OTHER)
        batch = text_of(app.query_one("#batch-line", Static))
        assert batch.startswith("batch 3/3") and "1 failed" in batch
        await wait_for(pilot, lambda: any("\x1b]9;" in data for data in written))
        out = "".join(written)
        assert "\x07" in out
        assert "\x1b]9;linkdeck: 3 links: 2 done, 1 failed\x07" in out
        assert "\x1b]777;notify;linkdeck;3 links: 2 done, 1 failed\x07" in out


async def test_the_bell_and_the_desktop_notification_can_be_turned_off(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator, notify={"bell": False, "desktop": False})
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        written: list[str] = []
        driver = app._driver
        assert driver is not None
        driver.write = written.append  # type: ignore[method-assign]
        await settle(pilot, app)
        await queue(pilot, app, DONE)
        await pilot.pause()
        assert text_of(app.query_one("#batch-line", Static)).startswith("batch 1/1")
        out = "".join(written)
        assert "\x07" not in out


def test_notification_text_is_filtered_and_wrapped_for_tmux() -> None:
    from tui.desktop_notify import desktop_notification

    hostile = "done\x1b]52;c;evil\x07 " + "x" * 500
    sequence = desktop_notification("linkdeck", hostile, tmux=False)
    assert sequence.count("\x1b") == 2 and sequence.count("\x07") == 2
    assert "evil" in sequence and len(sequence) < 400
    wrapped = desktop_notification("linkdeck", "3 links: 3 done", tmux=True)
    assert wrapped.startswith("\x1bPtmux;\x1b\x1b]9;") and wrapped.endswith("\x1b\\")


# --- quitting -------------------------------------------------------------------------


async def test_quit_with_links_in_flight_asks_first(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, BUSY, DONE)
        await pilot.press("escape", "q")
        await pilot.pause()
        question = app.screen.query_one("#quit-question", Static)
        assert "1 link waiting" in text_of(question)
        assert "it resumes at the next start. Quit? y/n" in text_of(question)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen) and app.is_running
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running)


async def test_quit_in_the_demo_says_its_links_are_forgotten(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock
) -> None:
    # The demo's history is deleted at quit: nothing resumes at its next start.
    demo = replace(make_profile(emulator), demo=True)
    app = LinkdeckApp(demo, clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, BUSY)
        await pilot.press("escape", "q")
        await pilot.pause()
        question = text_of(app.screen.query_one("#quit-question", Static))
        assert "1 link waiting: the demo forgets it. Quit? y/n" in question


@pytest.mark.parametrize("links", [(), (DONE,)])
async def test_quit_with_nothing_in_flight_asks_nothing(
    emulator: Emulator,
    make_profile: Callable[..., Profile],
    fake_clock: FakeClock,
    links: tuple[str, ...],
) -> None:
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        if links:
            await queue(pilot, app, *links)
        await pilot.press("escape", "q")
        await wait_for(pilot, lambda: not app.is_running)


async def test_retry_every_failed_and_clear_finished_take_earlier_sessions_items_too(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock
) -> None:
    # The log shows the whole history: F and D act on what it shows, not only on
    # what this run queued.
    from test_log_search_app import LOG, with_log

    profile = make_profile(emulator)
    earlier = with_log(profile)
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        failed = [item.id for item in earlier if item.state is ItemState.FAILED]
        await pilot.press("F")
        await wait_for(pilot, lambda: any(text.startswith("Retried 2") for text in toasts(app)))
        await settle(pilot, app)
        for item_id in failed:
            assert len(app.session.item(item_id).attempts) == 1  # type: ignore[union-attr]
        await pilot.press("D")
        done = sum(1 for item in LOG if item.state is ItemState.DONE)
        await wait_for(pilot, lambda: any(f"Cleared {done}" in text for text in toasts(app)))
        assert app.session.store.counts().get(ItemState.DONE, 0) == 0
