"""Write the SVG screenshots of screenshots/ with the app itself.

    python tests/screenshots.py

Runs linkdeck headless against the emulator with a fixed clock (2027-01-15 08:00
UTC) and throw-away directories, so the files only change when the UI does.
"""

from __future__ import annotations

import asyncio
import errno
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from deck import FIXED_NOW, PREMIUM_LOGIN, PREMIUM_PIN, quiet, settle
from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import LinkdeckApp
from tui.core import Profile
from tui.emulator import Emulator
from tui.settings import Settings
from tui.unlock import FakeClock, ItemState

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots"
PORT = 47654  # the snapshot tests' port: direct links read the same everywhere
CONFIG_PATH = Path("/home/user/.config/linkdeck/config.toml")  # shown, never written

LINKS = [
    "https://uploaded.net/file/abcd1234/holiday-photos.zip",
    "https://1fichier.com/?k3j9x2m1qa",
    "https://uploaded.net/file/abcd2345/missing/gone.zip",
    "https://share-online.biz/dl/ABCDEF123456",
    "https://uploaded.net/file/abcd3456/busy/later.zip",
    "https://example.com/files/nobody-serves-this.zip",
    "https://rapidgator.net/file/0123456789abcdef0123456789abcdef/linux.iso",
]

Step = Callable[[Pilot[Any]], Awaitable[None]]


async def unlock_batch(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, LinkdeckApp)
    await pilot.press("u")
    app.query_one("#links", Input).value = " ".join(LINKS)
    await pilot.press("enter")
    await settle(pilot, app)
    await pilot.press("escape")


def then(*keys: str) -> Step:
    """Unlock the batch, then press `keys`."""

    async def step(pilot: Pilot[Any]) -> None:
        await unlock_batch(pilot)
        await pilot.press(*keys)
        await pilot.pause()

    return step


async def first_done_detail(pilot: Pilot[Any]) -> None:
    await unlock_batch(pilot)
    app = pilot.app
    assert isinstance(app, LinkdeckApp) and app.session.engine is not None
    done = next(i for i in app.session.engine.items.values() if i.state is ItemState.DONE)
    table = app.query_one("#log")
    table.move_cursor(table.row_index(str(done.id)))  # type: ignore[attr-defined]
    await pilot.press("enter")


SHOTS: list[tuple[str, tuple[int, int], Step]] = [
    ("dashboard-120x40.svg", (120, 40), unlock_batch),
    ("dashboard-80x24.svg", (80, 24), unlock_batch),
    ("log.svg", (120, 40), then("3")),
    # Searched, sorted by hoster, two rows marked.
    (
        "log-workspace.svg",
        (120, 40),
        then("3", "slash", *"uploaded", "enter", "o", "space", "up", "space"),
    ),
    ("hoster-detail.svg", (120, 40), then("2", "slash", *"uploaded", "enter", "enter")),
    ("detail.svg", (120, 40), first_done_detail),
    ("help.svg", (120, 40), then("question_mark")),
    ("settings.svg", (120, 40), then("s")),
]


def start_emulator(clock: FakeClock) -> Emulator:
    """The emulator on PORT (waiting a little if a test run holds it), else on a
    free port: the shots are then right but their direct links differ."""
    for _ in range(50):
        try:
            return Emulator(port=PORT, clock=clock.now).start()
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            time.sleep(0.2)
    print(f"port {PORT} is busy: using a free port", file=sys.stderr)
    return Emulator(clock=clock.now).start()


async def shoot(name: str, size: tuple[int, int], step: Step, work: Path) -> None:
    clock = FakeClock(FIXED_NOW)
    with start_emulator(clock) as emulator:
        settings = Settings()
        api = replace(settings.api, url=emulator.url, login=PREMIUM_LOGIN, password=PREMIUM_PIN)
        profile = Profile(
            replace(settings, api=api),
            CONFIG_PATH,
            work / name / "data",
            work / name / "cache",
            demo=True,
        )
        app = LinkdeckApp(profile, clock=clock)
        async with app.run_test(size=size) as pilot:
            await settle(pilot, app)
            await step(pilot)
            await quiet(pilot)
            app.save_screenshot(name, str(OUT))
    print(f"wrote {OUT / name}")


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="linkdeck-shots-") as tmp:
        for name, size, step in SHOTS:
            await shoot(name, size, step, Path(tmp))


if __name__ == "__main__":
    # Local times in UTC, and no user config, data or cache is read or written.
    os.environ["TZ"] = "UTC"
    time.tzset()
    for key in [k for k in os.environ if k.startswith("LINKDECK_")]:
        del os.environ[key]
    sys.exit(asyncio.run(main()))
