"""The log's search: a query typed one character at a time over 100,000 items.

Run: python tests/bench/bench_search.py [--tiny]

For each keystroke of a few queries typed one character at a time (words of
one and two characters are looked for row by row, longer ones through the
full-text index; `state:` filters), this times:

(a) the history's answer alone (`History.find_ids`), in the log's order and
    sorted by hoster;
(b) the answer and the table's update: `UnlockRegion.search` in a headless app
    (the query, the table given its rows, the cursor placed; the drawing of
    the few rows on screen is not in it).

The figure is the slowest keystroke: each must stay within the budget.
`--tiny` runs 500 items, to check the script still runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from textual.app import App, ComposeResult

from tui.core.item_store import ItemStore
from tui.unlock.history import History
from tui.unlock.items import Item, ItemState
from tui.unlock.log_query import LogQuery, LogSort
from tui.widgets.unlock_log import UnlockRegion

SIZE = (120, 40)
KEYSTROKE_BUDGET_MS = 50
QUERIES = ("simpsons s05e1", "state:failed rapid", "404 part3")
HOSTERS = ("uploaded.net", "rapidgator.net", "1fichier.com", "mega.nz", "turbobit.net")
SHOWS = ("Simpsons", "Futurama", "Columbo", "Frasier", "Seinfeld", "Cheers", "Taxi")
ANSWERS = ("", "503 temporarily unavailable", "404 file not found", "509 fair use")
STATES = [ItemState.DONE] * 6 + [ItemState.FAILED, ItemState.WAITING, ItemState.CANCELLED]


def fill_history(path: Path, count: int) -> None:
    now = 1_800_000_000.0
    with History(path) as history:
        batch: list[Item] = []
        for n in range(count):
            hoster, state = HOSTERS[n % len(HOSTERS)], STATES[n % len(STATES)]
            name = f"{SHOWS[n % len(SHOWS)]}.S{n % 12:02d}E{n % 24:02d}.part{n % 9}.rar"
            batch.append(
                Item(
                    id=0,
                    link=f"https://{hoster}/file/{n * 7919 % 1_000_003:07x}/{name}",
                    hoster=hoster,
                    state=state,
                    created=now - (count - n) * 30,
                    updated=now - (count - n) * 30,
                    message=ANSWERS[n % len(ANSWERS)] if state is not ItemState.DONE else "",
                    filename=name if state is ItemState.DONE else None,
                )
            )
            if len(batch) == 5000:
                history.insert(batch)
                batch = []
        if batch:
            history.insert(batch)


def keystrokes(text: str) -> list[str]:
    """The search box's text after each key: "s", "si", ..."""
    return [text[:n] for n in range(1, len(text) + 1)]


def time_sort(history: History, sort: LogSort) -> float:
    """The sort's key (`o`), pressed before typing: the whole log in that order."""
    start = time.perf_counter()
    history.find_keys(LogQuery(sort=sort))
    return time.perf_counter() - start


def time_queries(history: History, sort: LogSort) -> tuple[list[float], str]:
    """Each keystroke's query time, and which was the slowest (its text, what it found)."""
    times, slowest = [], ""
    for text in QUERIES:
        for typed in keystrokes(text):
            query = LogQuery.parse(typed, sort)
            start = time.perf_counter()
            found = len(history.find_keys(query))
            times.append(time.perf_counter() - start)
            if times[-1] == max(times):
                slowest = f"{typed!r}, {found:,} found"
    return times, slowest


class LogApp(App[None]):
    CSS = "UnlockRegion { height: 1fr; }"

    def __init__(self, history: History) -> None:
        super().__init__()
        self.store = ItemStore()
        self.store.use(history)

    def compose(self) -> ComposeResult:
        yield UnlockRegion(time.time, self.store, id="unlock")

    async def on_mount(self) -> None:
        region = self.query_one(UnlockRegion)
        await region.build()
        region.load_history()


async def time_table(history: History) -> list[float]:
    """Each keystroke's query and table update."""
    app = LogApp(history)
    times = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        region = app.query_one(UnlockRegion)
        for text in QUERIES:
            for typed in [*keystrokes(text), ""]:
                start = time.perf_counter()
                region.search(region.log_query.parsed_again(typed))
                times.append(time.perf_counter() - start)
                await pilot.pause()
    return times


def row(figure: str, value: str, budget: str, ok: bool) -> None:
    print(f"| {figure} | {value} | {budget} | {'pass' if ok else 'FAIL'} |", flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def spread(times: list[float]) -> str:
    return f"{ms(max(times))} slowest, {ms(statistics.median(times))} median"


def run(count: int) -> None:
    print("| figure | value | budget | pass/fail |")
    print("|---|---|---|---|")
    budget = f"<= {KEYSTROKE_BUDGET_MS} ms"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.sqlite3"
        fill_history(path, count)
        with History(path) as history:
            history.find_ids(LogQuery.parse("warm"))  # the file in the page cache
            for sort in (LogSort.TIME, LogSort.HOSTER):
                if sort is not LogSort.TIME:
                    seconds = time_sort(history, sort)
                    row(
                        f"log of {count:,} items sorted by {sort} (its key, no search)",
                        ms(seconds),
                        budget,
                        seconds * 1000 <= KEYSTROKE_BUDGET_MS,
                    )
                times, slowest = time_queries(history, sort)
                row(
                    f"log search over {count:,} items, a keystroke's query, sorted by {sort}"
                    f" (slowest: {slowest})",
                    spread(times),
                    budget,
                    max(times) * 1000 <= KEYSTROKE_BUDGET_MS,
                )
            times = asyncio.run(time_table(history))
            row(
                f"log search over {count:,} items, a keystroke's query and table update",
                spread(times),
                budget,
                max(times) * 1000 <= KEYSTROKE_BUDGET_MS,
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="500 items: check it runs")
    args = parser.parse_args(argv)
    run(500 if args.tiny else 100_000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
