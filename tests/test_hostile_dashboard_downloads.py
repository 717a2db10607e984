"""Hostile use of downloads from the dashboard: another linkdeck process on the
same history acting on the file the dashboard wanted."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from deck import settle, wait_for
from test_app_flows import items_by_link, queue, select, text_of
from test_dashboard_downloads import (
    NARROW,
    SMALL,
    WIDE,
    deck,
    download_cell,
    download_line,
    fed,
    state_of,
)
from test_log_workspace import toasts
from textual.widgets import Static

from tui.core import Profile
from tui.core.events import DownloadTotals
from tui.download.job import Download, DownloadState
from tui.emulator import Emulator
from tui.unlock.history import History
from tui.widgets import download_text


async def test_a_download_another_process_let_go_of_can_be_downloaded_from_the_dashboard(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    app = deck(make_profile, emulator, folder)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, SMALL)
        await pilot.press("escape")
        item = items_by_link(app)[SMALL]
        select(app, item)
        assert app.session.history is not None
        # Another linkdeck (`linkdeck download ID`) holds the file, 40% through.
        with History(app.session.history.path) as other:
            theirs = Download(item.id, DownloadState.DOWNLOADING, item.location or "", str(folder))
            other.claim_download(item.id, theirs.moved(done=8_000_000, total=20_969_277).to_json())
            app.clear_notifications()
            await pilot.press("d")
            assert toasts(app) == ["Downloading 0; 1 was downloaded by another linkdeck process"]
            # It is cancelled there (Ctrl-C, or cancelled from its own dashboard): let go.
            other.save_download(
                item.id, theirs.moved(state=DownloadState.CANCELLED).to_json(), hold=False
            )
        app.clear_notifications()
        await pilot.press("d")
        assert not toasts(app)[0].startswith("Downloading 0")
        await wait_for(pilot, lambda: state_of(app, SMALL) is not DownloadState.CANCELLED)
        await wait_for(pilot, lambda: download_cell(app, SMALL) == "done", timeout=30)
        assert (folder / "small-43.zip").stat().st_size == 20_969_277


async def test_a_download_whose_other_process_died_goes_on_from_the_dashboard(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    app = deck(make_profile, emulator, folder)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, SMALL)
        await pilot.press("escape")
        item = items_by_link(app)[SMALL]
        select(app, item)
        assert app.session.history is not None
        now = [time.time()]
        with History(app.session.history.path, clock=lambda: now[0]) as other:
            theirs = Download(item.id, DownloadState.DOWNLOADING, item.location or "", str(folder))
            other.claim_download(item.id, theirs.to_json())
            app.clear_notifications()
            await pilot.press("d")
            assert toasts(app) == ["Downloading 0; 1 was downloaded by another linkdeck process"]
            # Killed there: its lease runs out, its record stays "downloading".
            now[0] -= 3600
            other.claim_download(item.id, theirs.to_json())
        app.clear_notifications()
        await pilot.press("d")
        assert not toasts(app)[0].endswith("another linkdeck process")
        await wait_for(pilot, lambda: download_cell(app, SMALL) == "done", timeout=30)
        assert (folder / "small-43.zip").stat().st_size == 20_969_277


async def test_a_huge_slow_download_reads_sanely_in_the_column_and_the_totals(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    app = deck(make_profile, emulator, tmp_path / "files")
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, SMALL)
        item_id = items_by_link(app)[SMALL].id
        tb = 1024**4
        for speed in (5_000_000.0, 100.0):
            app.dashboard.show_event(
                fed(
                    item_id,
                    DownloadState.DOWNLOADING,
                    done=tb,
                    total=5 * tb,
                    speed=speed,
                    connections=4,
                )
            )
            app.dashboard.show_event(DownloadTotals(speed, 4 * tb, 1, 0))
            await pilot.pause()
            cell = download_cell(app, SMALL)
            assert len(cell) <= download_text.WIDE_WIDTH, cell
            assert cell.endswith(f"{download_text.TIMES}4")
            assert "4.0 TB left" in text_of(download_line(app))


async def test_removing_an_item_with_a_paused_download_leaves_no_orphan_partial_file(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    emulator.faults = replace(emulator.faults, dl_rate=1_000_000)
    app = deck(make_profile, emulator, folder)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, SMALL)
        await pilot.press("escape")
        select(app, items_by_link(app)[SMALL])
        await pilot.press("d")
        await wait_for(pilot, lambda: "%" in download_cell(app, SMALL))
        await pilot.press("P")
        await wait_for(pilot, lambda: state_of(app, SMALL) is DownloadState.PAUSED)
        await pilot.press("delete")
        await wait_for(pilot, lambda: SMALL not in items_by_link(app))
        await pilot.pause()
        assert sorted(path.name for path in folder.iterdir()) == []


async def test_the_log_follows_a_download_another_process_holds_to_its_end(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    app = deck(make_profile, emulator, folder)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, SMALL)
        await pilot.press("escape")
        item = items_by_link(app)[SMALL]
        select(app, item)
        assert app.session.history is not None
        with History(app.session.history.path) as other:
            theirs = Download(
                item.id, DownloadState.DOWNLOADING, item.location or "", str(folder), total=1000
            )
            other.claim_download(item.id, theirs.moved(done=100).to_json())
            await pilot.press("d")  # refused: the other process downloads it
            assert download_cell(app, SMALL).endswith("10%")
            other.save_download(item.id, theirs.moved(done=500).to_json(), hold=True)
            await wait_for(pilot, lambda: download_cell(app, SMALL).endswith("50%"), timeout=10)
            done = theirs.moved(state=DownloadState.DONE, done=1000)
            other.save_download(item.id, done.to_json(), hold=False)
            await wait_for(pilot, lambda: download_cell(app, SMALL) == "done", timeout=10)


async def test_a_download_another_process_holds_says_so_rather_than_connecting(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    app = deck(make_profile, emulator, folder)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, SMALL)
        await pilot.press("escape")
        item = items_by_link(app)[SMALL]
        select(app, item)
        assert app.session.history is not None
        with History(app.session.history.path) as other:
            theirs = Download(
                item.id, DownloadState.DOWNLOADING, item.location or "", str(folder), total=1000
            )
            other.claim_download(item.id, theirs.moved(done=100).to_json())
            await pilot.press("d")  # refused: the other process downloads it
            assert download_cell(app, SMALL) == "other 10%"
            await pilot.press("enter")
            await pilot.pause()
            shown = text_of(app.screen.query_one("#detail-download", Static))
            assert "downloaded by another linkdeck process" in shown
