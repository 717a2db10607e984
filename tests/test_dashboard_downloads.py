"""Pilot tests of downloads in the dashboard: `d`, `P` and `X` on the log (a
toast says what was done and what was left), the log's Download column, the
status line's totals, the item's detail, the help, the footer and quitting
while files download. Against the emulator, slowed where a download must be
seen on its way; the column's words from a fed event (no live speeds)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from deck import settle, wait_for
from test_app_flows import help_text, items_by_link, queue, select, text_of
from test_friction import footer_settled, visible_footer_keys
from test_log_workspace import palette, toasts
from textual.widgets import Button, Static

from tui.app import LinkdeckApp
from tui.core import Profile
from tui.core.events import DownloadChanged, DownloadTotals
from tui.download.job import Download, DownloadState
from tui.emulator import Emulator
from tui.screens.detail import ItemDetailScreen
from tui.unlock import FakeClock
from tui.widgets.virtual_table import VirtualTable

SMALL = "https://uploaded.net/file/dlsm0043/small-43.zip"  # 20,969,277 bytes
OTHER = "https://uploaded.net/file/dlsm0086/small-86.zip"
MISSING = "https://uploaded.net/file/abcd2345/missing/gone.zip"
WIDE, NARROW = (120, 40), (80, 24)


def deck(make_profile: Callable[..., Profile], emulator: Emulator, folder: Path) -> LinkdeckApp:
    profile = make_profile(emulator, download={"dir": str(folder), "min_free_space": 0})
    return LinkdeckApp(profile, clock=FakeClock(1_800_000_000.0))


def download_cell(app: LinkdeckApp, link: str) -> str:
    item = items_by_link(app)[link]
    value = app.query_one("#log", VirtualTable).get_cell(str(item.id), "download")
    return getattr(value, "plain", str(value))


def state_of(app: LinkdeckApp, link: str) -> DownloadState | None:
    assert app.session.downloads is not None
    job = app.session.downloads.get(items_by_link(app)[link].id)
    return None if job is None else job.state


def download_line(app: LinkdeckApp) -> Static:
    return app.query_one("#download-line", Static)


async def test_d_downloads_P_pauses_d_resumes_X_cancels_and_deletes_the_part(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    emulator.faults = replace(emulator.faults, dl_rate=2_000_000)
    app = deck(make_profile, emulator, folder)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, SMALL)
        await pilot.press("escape")
        select(app, items_by_link(app)[SMALL])
        app.clear_notifications()
        await pilot.press("d")
        # The first download says where the files go.
        assert toasts(app) == [f"Downloading 1 to {folder}"]
        await wait_for(pilot, lambda: state_of(app, SMALL) is DownloadState.DOWNLOADING)
        await wait_for(pilot, lambda: "%" in download_cell(app, SMALL))
        await wait_for(pilot, lambda: "↓ 1 file" in text_of(download_line(app)))
        assert "left" in text_of(download_line(app))

        app.clear_notifications()
        await pilot.press("P")
        assert toasts(app) == ["Paused 1"]
        await wait_for(pilot, lambda: download_cell(app, SMALL).startswith("paused"))
        await wait_for(pilot, lambda: download_line(app).has_class("-none"))

        app.clear_notifications()
        await pilot.press("d")  # a paused download resumes
        assert toasts(app) == ["Resumed 1"]
        await wait_for(pilot, lambda: state_of(app, SMALL) is DownloadState.DOWNLOADING)

        app.clear_notifications()
        await pilot.press("X")
        assert toasts(app) == ["Cancelled 1 (the partial file deleted)"]
        await wait_for(pilot, lambda: not (folder / "small-43.zip.part").exists())
        await wait_for(pilot, lambda: download_cell(app, SMALL) == "cancelled")

        app.clear_notifications()
        emulator.faults = replace(emulator.faults, dl_rate=0)
        await pilot.press("d")  # a cancelled download is retried
        assert toasts(app) == ["Retrying 1"]
        await wait_for(pilot, lambda: download_cell(app, SMALL) == "done", timeout=20)
        assert (folder / "small-43.zip").stat().st_size == 20_969_277


async def test_d_on_marked_rows_says_what_it_left_and_why(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    app = deck(make_profile, emulator, tmp_path / "files")
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, MISSING, SMALL)
        await pilot.press("escape", "asterisk")  # marks every row
        app.clear_notifications()
        await pilot.press("d")
        (said,) = toasts(app)
        assert said.startswith("Downloading 1 to ")
        assert said.endswith("; 1 was not unlocked yet")
        app.clear_notifications()
        await pilot.press("P")
        assert toasts(app)[0].startswith("Paused 0; ")


def fed(item_id: int, state: DownloadState, **values: Any) -> DownloadChanged:
    return DownloadChanged(Download(item_id, state, "https://dl/x", "/tmp", **values))


async def test_the_download_column_at_120_and_80_columns(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    for size, expected in (
        (WIDE, "▇▇▇▇▁▁ 64%  2.0 MB/s 0:18"),
        (NARROW, "▇▇▇▇▁▁ 64%"),
    ):
        app = deck(make_profile, emulator, tmp_path / "files")
        async with app.run_test(size=size) as pilot:
            await settle(pilot, app)
            await queue(pilot, app, SMALL)
            table = app.query_one("#log", VirtualTable)
            assert table.column_width("download") == 0  # no download: no column
            item_id = items_by_link(app)[SMALL].id
            mb = 1024 * 1024
            app.dashboard.show_event(
                fed(item_id, DownloadState.DOWNLOADING, done=64 * mb, total=100 * mb, speed=2 * mb)
            )
            await pilot.pause()
            assert table.column_width("download") > 0
            assert download_cell(app, SMALL) == expected
            for state, values, words in (
                (DownloadState.PAUSED, {"done": 40, "total": 100}, "paused 40%"),
                (DownloadState.DONE, {"done": 100, "total": 100}, "done"),
                (DownloadState.FAILED, {"message": "disk full"}, "failed"),
                (DownloadState.QUEUED, {}, "queued"),
            ):
                app.dashboard.show_event(fed(item_id, state, **values))
                assert download_cell(app, SMALL) == words


async def test_the_status_line_shows_the_totals_while_files_download(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    app = deck(make_profile, emulator, tmp_path / "files")
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        line = download_line(app)
        assert line.has_class("-none")
        gb = 1024**3
        app.dashboard.show_event(DownloadTotals(23.4 * 1024**2, int(1.2 * gb), 2, 1))
        await pilot.pause()
        assert not line.has_class("-none")
        assert text_of(line) == "↓ 2 files · 23.4 MB/s · 1.2 GB left · 1 queued"
        app.dashboard.show_event(DownloadTotals(0.0, 0, 0, 0))
        await pilot.pause()
        assert line.has_class("-none")


async def test_the_detail_shows_the_download_and_its_buttons_that_apply(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    emulator.faults = replace(emulator.faults, dl_rate=2_000_000)
    app = deck(make_profile, emulator, folder)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, SMALL)
        await pilot.press("escape")
        select(app, items_by_link(app)[SMALL])
        await pilot.press("enter")
        assert isinstance(app.screen, ItemDetailScreen)
        await pilot.pause()

        def enabled() -> set[str]:
            return {
                button.id or ""
                for button in app.screen.query(Button)
                if not button.disabled and (button.id or "").startswith("download-")
            }

        assert enabled() == {"download-start"}
        await pilot.click("#download-start")
        await wait_for(pilot, lambda: state_of(app, SMALL) is DownloadState.DOWNLOADING)
        app.screen.refresh_item()  # type: ignore[attr-defined]
        assert enabled() == {"download-pause", "download-cancel"}
        text = text_of(app.screen.query_one("#detail-download", Static))
        assert "downloading" in text and str(folder / "small-43.zip.part") in text
        assert "/ 20.0 MB" in text
        app.screen.query_one("#download-pause", Button).press()
        await wait_for(pilot, lambda: state_of(app, SMALL) is DownloadState.PAUSED)
        app.screen.refresh_item()  # type: ignore[attr-defined]
        assert enabled() == {"download-resume", "download-cancel"}
        why = app.screen.query_one("#download-retry", Button).tooltip
        assert why == "paused, not failed"


async def test_the_detail_shows_the_servers_message_as_plain_text(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    app = deck(make_profile, emulator, tmp_path / "files")
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, SMALL)
        item_id = items_by_link(app)[SMALL].id
        await pilot.press("escape")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, ItemDetailScreen)
        screen.show_download(
            Download(item_id, DownloadState.FAILED, "u", "/f", message="[b]bad[/b]\x1b[31m")
        )
        text = text_of(screen.query_one("#detail-download", Static))
        assert "[b]bad[/b]" in text and "\x1b" not in text


async def test_the_keys_are_in_the_help_and_d_in_the_footer_once_a_file_can_be_downloaded(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    app = deck(make_profile, emulator, tmp_path / "files")
    async with app.run_test(size=NARROW, notifications=True) as pilot:
        await settle(pilot, app)
        await footer_settled(pilot)
        # Nothing to download yet: the room goes to keys that work; the key says why.
        assert "d" not in visible_footer_keys(app)
        await pilot.press("d")
        assert toasts(app) == ["The log is empty"]
        await palette(pilot, app, "Download")
        assert toasts(app)[-1] == "The log is empty"
        await queue(pilot, app, SMALL)
        await pilot.press("escape")
        await footer_settled(pilot)
        assert "d" in visible_footer_keys(app)[:4]
        await pilot.press("question_mark")
        await pilot.pause()
        shown = help_text(app)
        for words in ("download", "pause-download", "cancel-download"):
            assert words in shown


async def test_quit_while_files_download_asks_first(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    emulator.faults = replace(emulator.faults, dl_rate=1_000_000)
    app = deck(make_profile, emulator, tmp_path / "files")
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, SMALL, OTHER)
        await pilot.press("escape", "asterisk", "d")
        await wait_for(
            pilot,
            lambda: state_of(app, SMALL) is state_of(app, OTHER) is DownloadState.DOWNLOADING,
        )
        await pilot.press("q")
        await pilot.pause()
        question = text_of(app.screen.query_one("#quit-question", Static))
        assert question == "2 files downloading: they go on at the next start. Quit? y/n"
        await pilot.press("n")


async def test_a_download_paused_in_an_earlier_run_shows_at_the_next_start(
    emulator: Emulator, make_profile: Callable[..., Profile], tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    emulator.faults = replace(emulator.faults, dl_rate=1_000_000)
    first = deck(make_profile, emulator, folder)
    async with first.run_test(size=NARROW) as pilot:
        await settle(pilot, first)
        await queue(pilot, first, SMALL)
        await pilot.press("escape", "d")
        await wait_for(pilot, lambda: state_of(first, SMALL) is DownloadState.DOWNLOADING)
        await pilot.press("P")
        await wait_for(pilot, lambda: state_of(first, SMALL) is DownloadState.PAUSED)
        shown = download_cell(first, SMALL)
        assert shown.startswith("paused ")
        key = str(items_by_link(first)[SMALL].id)
    again = deck(make_profile, emulator, folder)
    async with again.run_test(size=NARROW) as pilot:
        await settle(pilot, again)
        table = again.query_one("#log", VirtualTable)
        await wait_for(pilot, lambda: key in table)
        assert table.get_cell(key, "download").plain == shown  # type: ignore[union-attr]
        await footer_settled(pilot)
        assert "d" in visible_footer_keys(again)


def test_a_fast_download_keeps_a_space_before_its_speed() -> None:
    from tui.download.job import Download, DownloadState
    from tui.widgets.download_text import download_cell

    job = Download(
        item_id=1,
        state=DownloadState.DOWNLOADING,
        url="http://x/f",
        folder="/tmp",
        done=690,
        total=1000,
        speed=237.1 * 2**20,
        connections=4,
    )
    assert download_cell(job, wide=True).plain == "▇▇▇▇▁▁ 69% 237.1 MB/s 0:00 \u00d74"
