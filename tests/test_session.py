"""A whole session with no Textual at all: the core the dashboard and the
commands share, driven as a front end would, against the emulator.

The scenario runs in a fresh interpreter, which then shows that nothing it
imported loaded Textual; the same scenario runs here too, for pytest's report.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from tui.core import (
    AccountChanged,
    ActionRefused,
    Connection,
    Event,
    HistoryOpened,
    HostersChanged,
    ItemAction,
    Notice,
    Profile,
    Session,
)
from tui.emulator import Emulator
from tui.settings import Settings
from tui.unlock.items import Item, ItemState

LOGIN, PIN = "111111111", "1111"
DONE = "https://uploaded.net/file/abcd1234/holiday-photos.zip"
BUSY = "https://uploaded.net/file/abcd3456/busy/later.zip"
MISSING = "https://uploaded.net/file/abcd2345/missing/gone.zip"


async def until(condition, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)


async def drive(root: Path, url: str) -> dict[str, object]:
    """Open, refresh, queue, retry, remove, change the settings; returns what was seen."""
    settings = Settings()
    settings = replace(settings, api=replace(settings.api, url=url, login=LOGIN, password=PIN))
    settings = replace(settings, unlock=replace(settings.unlock, retry_delay=1.0))
    profile = Profile(settings, root / "config.toml", root / "data", root / "cache")
    session = Session(profile)
    seen: list[Event] = []
    session.subscribe(seen.append)
    try:
        await session.open()
        assert any(isinstance(event, HistoryOpened) for event in seen)
        try:
            await session.queue(DONE)
        except ActionRefused as refused:
            refused_before_connect = str(refused)
        assert session.can_connect()
        await session.connect()
        await until(lambda: session.account.view.connection is Connection.OK)
        await until(lambda: any(isinstance(event, HostersChanged) for event in seen))

        queued = await session.queue(f"{DONE}\n{BUSY}\n{MISSING}\n{DONE}")
        assert session.engine is not None
        await session.engine.wait_idle()
        states = {item.link: item.state for item in session.items()}
        busy = next(item for item in queued.added if item.link == BUSY)
        attempts_before = len(session.engine.items[busy.id].attempts)
        session.act(busy.id, ItemAction.RETRY)
        await until(lambda: len(session.engine.items[busy.id].attempts) > attempts_before)
        missing = next(item for item in queued.added if item.link == MISSING)
        session.act(missing.id, ItemAction.REMOVE)
        try:
            session.act(missing.id, ItemAction.RETRY)
        except ActionRefused as refused:
            refused_after_remove = str(refused)

        account_events = sum(isinstance(event, AccountChanged) for event in seen)
        session.refresh()
        await until(
            lambda: sum(isinstance(event, AccountChanged) for event in seen) >= account_events + 2
        )
        # New settings apply at once: a new timeout reaches the client.
        faster = replace(session.settings.api, timeout=3.5)
        await session.apply(replace(session.settings, api=faster))
        assert session.client is not None
        timeout = session.client.timeout
        done = [item.link for item in session.items([ItemState.DONE])]
        return {
            "refused_before_connect": refused_before_connect,
            "states": {link: str(state) for link, state in states.items()},
            "done": done,
            "removed": session.item(missing.id) is None,
            "refused_after_remove": refused_after_remove,
            "timeout": timeout,
            "items_seen": sorted({event.link for event in seen if isinstance(event, Item)}),
            "notices": [event.text for event in seen if isinstance(event, Notice)],
        }
    finally:
        await session.close()


def check(result: dict[str, object]) -> None:
    assert result["refused_before_connect"] == "Not connected yet: check the settings (s)"
    assert result["states"] == {
        DONE: "done",
        BUSY: "waiting",
        MISSING: "failed",
    }, result["states"]
    assert result["done"] == [DONE]
    assert result["removed"] is True
    assert result["refused_after_remove"] == "This item is no longer in the history"
    assert result["timeout"] == 3.5
    assert result["items_seen"] == sorted([DONE, BUSY, MISSING])
    assert result["notices"] == [], result["notices"]


async def test_a_whole_session_runs_without_textual(tmp_path: Path) -> None:
    with Emulator() as emulator:
        check(await drive(tmp_path, emulator.url))


SCRIPT = """
import asyncio, json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from test_session import drive
result = asyncio.run(drive(Path(sys.argv[1]), sys.argv[2]))
result["textual"] = sorted(m for m in sys.modules if m.split(".")[0] == "textual")
print(json.dumps(result))
"""


def test_the_session_loads_no_textual(tmp_path: Path) -> None:
    with Emulator() as emulator:
        run = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(tmp_path), emulator.url, str(Path(__file__).parent)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result.pop("textual") == []
    check(result)


async def test_closing_during_an_export_leaves_it_whole_and_starts_nothing(tmp_path: Path) -> None:
    """Quitting while the history is written out: the export ends whole (it runs
    in a thread, which cannot be stopped) before the history is closed, and
    nothing of the session starts again afterwards."""
    from tui.unlock.history import History

    profile = Profile(Settings(), tmp_path / "config.toml", tmp_path / "data", tmp_path / "cache")
    with History(profile.history_path) as history:
        done = Item(
            id=0,
            link="https://uploaded.net/file/x/a.zip",
            hoster="uploaded.net",
            state=ItemState.DONE,
            created=1.0,
            updated=1.0,
            location="https://dl.example/a.zip",
        )
        for start in range(0, 60_000, 5_000):
            history.insert(
                replace(done, link=f"https://uploaded.net/file/{n}/a.zip")
                for n in range(start, start + 5_000)
            )
    session = Session(profile)
    await session.open()
    exporting = asyncio.create_task(session.export(tmp_path / "exports", "stamp"))
    await asyncio.sleep(0.05)
    exporting.cancel()  # the user quit: nobody waits for the result any more
    await session.close()
    jsonl = tmp_path / "exports" / "linkdeck-stamp.jsonl"
    assert len(jsonl.read_text().splitlines()) == 60_000
    assert (
        len((tmp_path / "exports" / "linkdeck-stamp-links.txt").read_text().splitlines()) == 60_000
    )
    session.account_poll.now()
    session.hosters_poll.within(0)
    await asyncio.sleep(0.05)
    assert not session.account_poll.armed and session.account_poll.next_at is None
    assert [task for task in asyncio.all_tasks() if "poll" in task.get_name()] == []
