"""Large pastes: queued a step at a time, so keys work and sending starts at once.

10,000 links added in one go held the dashboard for a second (a history query
per row shown, the cursor moved per row), and `linkdeck unlock -` stored all
of 100,000 links before sending the first. The key latency is a benchmark
(tests/bench/bench_terminal.py `paste`); these tests check what can be seen
without a clock: a key is handled while a paste is being queued, the first
link is sent before the last is stored, and a write that fails midway loses
no link.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from commandline import isolated_env
from deck import settle
from hostile import HostileServer
from textual import events
from textual.widgets import Input

from tui.app import LinkdeckApp
from tui.emulator import Emulator
from tui.settings import UnlockSettings
from tui.unlock import FakeClock, History, HistoryWriteError, QueueState, UnlockEngine
from tui.unlock.engine import QUEUE_STEP
from tui.widgets.virtual_table import GROWTH_INTERVAL, VirtualTable

LOGIN, PIN = "123456789", "1111"


def bulk_links(count: int, tag: str = "x") -> list[str]:
    return [f"https://uploaded.net/file/{tag}{n:07d}/part.rar" for n in range(count)]


async def test_a_key_is_handled_while_a_paste_is_queued(
    emulator: Emulator, make_profile: Any, fake_clock: FakeClock
) -> None:
    links = bulk_links(30 * QUEUE_STEP)
    app = LinkdeckApp(make_profile(emulator), clock=fake_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.session.engine is not None
        queued_when_paused: list[int] = []

        def on_event(event: object) -> None:
            if isinstance(event, QueueState) and event.paused:
                queued_when_paused.append(len(app.session.engine.items))  # type: ignore[union-attr]

        app.session.engine.subscribe(on_event)
        await pilot.press("u")
        app.post_message(events.Paste("\n".join(links)))
        await pilot.pause()
        # As a terminal sends them, without waiting for the app to be idle as the
        # pilot's press does (idle is when the whole paste is queued).
        for key, character in (("enter", "\r"), ("escape", "\x1b")):
            app.post_message(events.Key(key, character))
        log = app.query_one("#log")
        while app.focused is not log:
            await asyncio.sleep(0.005)
        app.post_message(events.Key("p", "p"))
        while not queued_when_paused:
            await asyncio.sleep(0.005)
        assert queued_when_paused[0] < len(links)  # handled while the paste was queued
        while len(app.session.engine.items) < len(links):
            await pilot.pause(0.05)
        assert app.query_one("#links", Input).value == ""
        assert app.session.engine.paused
        # The log grew its height a few times a second meanwhile; now it is all
        # there, and the newest row shows, under the cursor.
        log = app.query_one("#log", VirtualTable)
        await pilot.pause(GROWTH_INTERVAL * 2)
        assert log.virtual_size.height == log.row_count + 1
        assert log.cursor_row == log.row_count - 1
        assert log.scroll_y + log.size.height - 1 >= log.row_count


class FirstUnlockWatcher(HostileServer):
    """Counts the history's rows when the first link arrives, and holds that answer."""

    def __init__(self, history: Path) -> None:
        super().__init__(LOGIN, PIN)
        self.history = history
        self.rows_at_first_unlock: int | None = None
        self.first = threading.Event()

    def answer(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if params.get("method") == "directdownloadlink" and not self.first.is_set():
            with sqlite3.connect(f"file:{self.history}?mode=ro", uri=True) as db:
                self.rows_at_first_unlock = db.execute("SELECT count(*) FROM items").fetchone()[0]
            self.first.set()
        return super().answer(params)


def test_the_command_sends_before_it_has_stored_every_link(tmp_path: Path) -> None:
    count = 20_000
    history = tmp_path / "xdg_data_home" / "linkdeck" / "history.sqlite3"
    links = "\n".join(f"https://h0.example/done/x?{n}" for n in range(count))
    with FirstUnlockWatcher(history) as server:
        env = isolated_env(
            tmp_path, LINKDECK_PASSWORD=PIN, LINKDECK_API_URL=server.url, LINKDECK_LOGIN=LOGIN
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "tui", "unlock", "-"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            assert process.stdin is not None
            process.stdin.write(links.encode())
            process.stdin.close()
            assert server.first.wait(60), "no link was sent"
        finally:
            process.kill()
            process.wait(30)
    assert server.rows_at_first_unlock is not None
    assert server.rows_at_first_unlock < count


class FailingHistory(History):
    """A history whose third write of new items fails as a full disk would."""

    adds = 0

    def add(self, items: Any) -> Any:
        FailingHistory.adds += 1
        if FailingHistory.adds == 3:
            raise HistoryWriteError(self.path, OSError(28, "No space left on device"))
        return super().add(items)


async def test_a_write_that_fails_midway_keeps_the_links_not_queued(tmp_path: Path) -> None:
    links = bulk_links(5 * QUEUE_STEP)
    with FailingHistory(tmp_path / "history.sqlite3") as history:
        engine = UnlockEngine(None, history, UnlockSettings())  # type: ignore[arg-type]
        queued = await engine.queue(" ".join(links))
    assert queued.error is not None and "no space" in queued.error.reason
    assert queued.links == len(links)
    assert [item.link for item in queued.added] == links[: 2 * QUEUE_STEP]
    assert queued.rest == links[2 * QUEUE_STEP :]
