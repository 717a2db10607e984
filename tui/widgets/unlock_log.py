"""The unlock region: the links input, the queue's state and the live log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from tui import formatting
from tui.api import meaning_of
from tui.core.events import DownloadTotals
from tui.download.job import Download
from tui.unlock.engine import PAUSED_BY_USER
from tui.unlock.items import Item, ItemState, QueueState
from tui.unlock.log_query import LogQuery, LogSort
from tui.untrusted import plain
from tui.widgets import download_text
from tui.widgets.later_parts import LaterParts
from tui.widgets.links_input import LinksInput
from tui.widgets.marking_table import MarkingTable
from tui.widgets.virtual_table import Column, VirtualTable

if TYPE_CHECKING:
    from tui.core.batch import BatchProgress
    from tui.core.item_store import ItemStore

STATE_STYLES = {
    ItemState.PENDING: "dim",
    ItemState.UNLOCKING: "bold cyan",
    ItemState.DONE: "green",
    ItemState.FAILED: "bold red",
    ItemState.WAITING: "yellow",
    ItemState.HELD: "magenta",
    ItemState.CANCELLED: "dim strike",
    ItemState.UNSUPPORTED: "dim yellow",
}
TIMED_STATES = (ItemState.WAITING, ItemState.HELD)
BATCH_BAR_WIDTH = 20
COLUMNS = ("time", "hoster", "state", "code", "download", "link")
TIME_WIDTH, HOSTER_WIDTH, STATE_WIDTH = 5, 14, 15
ANSWER_MIN, ANSWER_MAX, LINK_MIN = 16, 34, 12
ANSWER_TIGHT = 9
"""The answer's width when a Download column leaves no more (at 80 columns):
the code and a word."""
CELL_CHROME = 2
"""Padding of a shown column."""
OTHER_PROCESS = "other process"
"""The answer column of an item another linkdeck process has in its queue."""


LINK_USEFUL = 32
"""Narrower than this, a shortened direct link says nothing (at 80 columns it
has 18): the column shows the file name, the link is in the item's detail."""


@dataclass(frozen=True)
class ColumnWidths:
    """The log's columns whose width follows the terminal's."""

    answer: int
    download: int
    """0 hides the column (no download yet)."""
    link: int


def column_widths(table_width: int, *, downloads: bool = False) -> ColumnWidths:
    """Widths of the answer, the download and the direct link columns: the
    download column shows speed and time left where the others keep room
    enough, its compact form else; the link gets what the answer leaves
    (the table gives it the rest, less the scrollbar of a long log)."""
    shown = len(COLUMNS) if downloads else len(COLUMNS) - 1
    free = table_width - CELL_CHROME * shown - TIME_WIDTH - HOSTER_WIDTH - STATE_WIDTH
    download = 0
    if downloads:
        # From 120 columns: the link column then shows the file's name.
        roomy = free - download_text.WIDE_WIDTH >= ANSWER_MIN + 2 * LINK_MIN
        download = download_text.WIDE_WIDTH if roomy else download_text.COMPACT_WIDTH
        free -= download
    answer = min(max(free // 3, ANSWER_MIN), ANSWER_MAX)
    if free - answer < LINK_MIN:
        answer = max(free - LINK_MIN, ANSWER_TIGHT)
    return ColumnWidths(answer, download, max(free - answer, LINK_MIN))


def shows_file_name(link_width: int) -> bool:
    return link_width < LINK_USEFUL


def link_label(link_width: int) -> str:
    return "File" if shows_file_name(link_width) else "Direct link"


def file_name(item: Item) -> str:
    """The file's name: the server's, or the last part of the link's path."""
    if item.filename:
        return item.filename
    path = urlsplit(item.link).path.rstrip("/")
    return unquote(path.rpartition("/")[2]) or item.link


def shorten(text: str, width: int) -> str:
    """Cut the middle out of a long link, keeping its host and file name."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[-(width - 1 - head) :]


def why_held(item: Item, queue: QueueState, now: float) -> tuple[str, float | None] | None:
    """Why a held item waits ("hoster down", "fair use used up"), and until
    when if a hold says so; None when the item is not held."""
    if item.state is not ItemState.HELD:
        return None
    if queue.global_hold_until is not None and queue.global_hold_until > now:
        return "fair use used up", queue.global_hold_until
    until = queue.hoster_holds.get(item.hoster or "")
    if until is not None and until > now:
        return "hoster down", until
    return plain(item.message) or "held", None  # "waiting for the hoster list"


def held_words(item: Item, queue: QueueState, now: float) -> str | None:
    """ "held: hoster down until 14:05", or None when the item is not held."""
    held = why_held(item, queue, now)
    if held is None:
        return None
    reason, until = held
    return f"held: {reason}" + (f" until {formatting.local_clock(until)}" if until else "")


def gave_up_after(item: Item) -> int | None:
    """How many attempts a failed item had, when it was retried before it ended."""
    if item.state is ItemState.FAILED and item.counted_attempts > 1:
        return item.counted_attempts
    return None


def code_text(item: Item, width: int = ANSWER_MAX) -> Text:
    """The last answer in a few words: code and meaning, or why there is none."""
    if item.reused:
        text = Text("reused, no call", style="green")
    elif item.state is ItemState.UNSUPPORTED:
        text = Text("no hoster serves it")
    elif item.status is None:
        text = Text(plain(item.message) or "-", style="dim")
    elif meaning_of(item.status) == "undocumented error":
        # The server's own words are all an undocumented code has to say.
        said = item.message.removeprefix(f"{item.status} undocumented error").lstrip(": ")
        text = Text(f"{item.status} {plain(said) or meaning_of(item.status)}")
    else:
        text = Text(f"{item.status} {meaning_of(item.status)}")
    text.truncate(width, overflow="ellipsis")
    return text


class LogSearch(Input):
    """The log's search box; the footer shows what Enter and Escape do in it."""

    BINDINGS = [
        Binding("enter", "submit", "Keep", id="search-keep", tooltip="Keep the search"),
        Binding(
            "escape",
            "screen.leave_input",
            "Clear",
            id="search-clear",
            tooltip="Clear the search and go back to the log",
        ),
    ]


class UnlockRegion(LaterParts, Vertical):
    """Links input, queue line and the log table, one row per item, updated in place.

    The log holds every item of the history, as ids: each row is read from the
    item store (the session's) when it comes on screen, and its cells are made
    then, at the width its columns have. The counts are the history's, which
    other processes change too."""

    def __init__(self, clock: Callable[[], float], store: ItemStore, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.clock = clock
        self.store = store
        self._counts: Counter[ItemState] = Counter()
        self._recount_due = False
        self._follow_end = False
        self.queue = QueueState()
        self.widths = column_widths(80)
        self._downloads: dict[int, Download] = {}
        """The latest state of each item's download, as the session told it."""
        self._countdowns: dict[int, Text] = {}
        """The state text last shown for each timed item."""
        self.log_query = LogQuery()
        """The search and the order the log shows."""

    def compose(self) -> ComposeResult:
        # The first frame shows the region's frame only: its parts come with
        # `build`, right after it.
        yield from ()

    async def _build_parts(self) -> None:
        await self.mount_all(
            [
                LinksInput(placeholder="paste links, Enter to unlock  (u)", id="links"),
                Static("", id="queue-line"),
                # Shown from the first batch on.
                Static("", id="batch-line", classes="-none"),
                # Shown while files download.
                Static("", id="download-line", classes="-none"),
                MarkingTable(
                    [
                        Column("time", "Time", TIME_WIDTH),
                        Column("hoster", "Hoster", HOSTER_WIDTH),
                        Column("state", "State, tries", STATE_WIDTH),
                        Column("code", "Answer", self.widths.answer),
                        Column("download", "Download", self.widths.download),
                        Column("link", link_label(self.widths.link), min_width=LINK_MIN),
                    ],
                    id="log",
                ),
                LogSearch(
                    placeholder="search: words, state:failed…  (enter keeps it, esc clears it)",
                    id="log-search",
                    classes="-hidden",
                ),
            ]
        )

    def _on_built(self) -> None:
        self._show_queue()

    def on_mount(self) -> None:
        self.border_title = "Unlock"
        # Runs only while something counts down: an idle dashboard has no timer to wake it.
        self._countdown_timer = self.set_interval(1, self._tick_countdowns, pause=True)

    def on_resize(self) -> None:
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Fit the answer and download columns to the width; the link takes the
        rest, or the file name where a link would be cut to nothing."""
        widths = column_widths(self.size.width, downloads=bool(self._downloads))
        before, self.widths = self.widths, widths
        if not self.built:
            return  # the table is made at these widths
        if widths.answer != before.answer:
            self.table.set_column_width("code", widths.answer)
        if widths.download != before.download:
            self.table.set_column_width("download", widths.download)
        if link_label(widths.link) != link_label(before.link):
            self.table.set_column_label("link", link_label(widths.link))

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#log", VirtualTable)

    @property
    def selected(self) -> Item | None:
        if not self.built:
            return None
        key = self.table.cursor_key
        return None if key is None else self.store.item(int(key))

    @property
    def marked_ids(self) -> list[int]:
        """The items selected (marked) in the log, oldest first."""
        if not self.built:
            return []
        return sorted(int(key) for key in self.table.marked)

    def load_history(self) -> None:
        """Show every item of the history (ids only: rows are read when drawn),
        or those the search finds, with the cursor on the newest."""
        self._show_found()
        table = self.table
        table.move_cursor(table.row_count - 1 if self._newest_last else 0)
        self._recount()
        self._show_queue()
        self._show_title()

    def search(self, query: LogQuery) -> None:
        """Show what `query` finds, in its order; the cursor stays on its item if
        that is found, else goes to the newest."""
        self.log_query = query
        if not self.built:
            return  # `load_history` shows it
        table = self.table
        key = table.cursor_key
        self._show_found()  # keeps the cursor on its key if that is found
        if key is None or table.cursor_key != key:
            table.move_cursor(table.row_count - 1 if self._newest_last else 0)
        self._show_title()

    @property
    def _newest_last(self) -> bool:
        return self.log_query.sort is LogSort.TIME and not self.log_query.descending

    def _show_found(self) -> None:
        """The rows the search finds, ids only, by one query of the history's index.
        This session's items come too: one whose state could not be saved yet is
        in no query's answer."""
        query, cells, table = self.log_query, self._row_cells, self.table
        # zip and repeat: 100,000 rows without a Python step each.
        table.set_rows(zip(self.store.find_keys(query), repeat(cells)))
        for item in self.store.current():
            if query.matches(item):
                table.upsert_row(str(item.id), cells)

    def _recount(self) -> None:
        """The counts as the history has them (a table of a few rows, kept by SQLite)."""
        self._recount_due = False
        could_download = self.can_download
        self._counts = Counter(self.store.counts())
        if self.can_download != could_download:
            self.screen.refresh_bindings()  # the footer offers `d` from now on, or no more

    @property
    def can_download(self) -> bool:
        """Whether any item has a file to download, or a download: the footer
        shows `d` only then (at 80 columns it takes the room of a key that works)."""
        return bool(self._counts[ItemState.DONE] or self._downloads)

    def _settle_soon(self) -> None:
        """Recount, and follow the newest row, once the messages queued now are
        handled: counting reads the whole history, moving the cursor scrolls, and
        a paste of 10,000 links brings 10,000 rows at once."""
        if not self._recount_due:
            self._recount_due = True
            self.call_later(self._settle)

    def _settle(self) -> None:
        if self._follow_end:
            self._follow_end = False
            self.table.move_cursor(self.table.row_count - 1)
        self._recount()
        self._show_queue()
        self._show_title()

    def _show_title(self) -> None:
        """ "Unlock · 12 of 3,400 · 2 marked · filter: foo · state: failed · sort: hoster ↓"
        (the count first: a long title is cut at its end; the marks in the title,
        which the queue's line would push off at 80 columns)"""
        parts = ["Unlock"]
        if self.log_query.filters and self.built:
            parts.append(f"{self.table.row_count:,} of {sum(self._counts.values()):,}")
        if self.built and (marked := len(self.table.marked)):
            parts.append(f"{marked} marked")
        parts += self.log_query.describe()
        self.border_title = " · ".join(parts)

    def _row_cells(self, key: str) -> tuple[Text | str, ...]:
        item_id = int(key)
        item = self.store.item(item_id)
        if item is None and self.store.unreadable(item_id):
            return ("", "", Text("unreadable", style="red"), "", "", "")  # a damaged row, kept
        if item is None:  # deleted meanwhile (by `linkdeck unlock --prune`, say)
            return ("", "", Text("gone", style="dim"), "", "", "")
        return self._cells(item)

    def show(self, item: Item, scroll: bool = True) -> None:
        """Add the item's row, or update it in place (only its line is repainted)."""
        table = self.table
        key = str(item.id)
        if item.state in TIMED_STATES:
            self._countdowns[item.id] = self._state_text(item)
            self._countdown_timer.resume()
        else:
            self._countdowns.pop(item.id, None)
        if not self.log_query.matches(item):
            # A change makes it one the search does not find: it goes.
            if key in table:
                table.remove_row(key)
            self._settle_soon()
            return
        if key not in table:
            # At the end whatever the order, until the search or the sort changes.
            at_end = table.cursor_row >= table.row_count - 1
            table.upsert_row(key, self._row_cells)
            self._follow_end = self._follow_end or (scroll and at_end)
        else:
            table.upsert_row(key, self._row_cells)
        self._settle_soon()

    def remove(self, item_id: int) -> None:
        self._countdowns.pop(item_id, None)
        self._downloads.pop(item_id, None)
        if str(item_id) in self.table:
            self.table.remove_row(str(item_id))
        self._settle_soon()

    def set_queue(self, queue: QueueState) -> None:
        self.queue = queue
        self._show_queue()
        # A held row says why and until when: the holds are the queue's.
        for item_id in self._countdowns if self.built else ():
            self.table.refresh_row(str(item_id))

    def set_batch(self, batch: BatchProgress) -> None:
        """The current batch (or the last one) as a bar: done / all, what waits."""
        if not self.built:
            return
        width = BATCH_BAR_WIDTH
        filled = round(width * batch.ended / batch.total) if batch.total else width
        text = Text.assemble(
            (f"batch {batch.ended}/{batch.total} ", "bold"),
            ("━" * filled, "green" if batch.finished else "cyan"),
            ("─" * (width - filled), "dim"),
        )
        if batch.waiting:
            text.append(f" · {batch.waiting} waiting", STATE_STYLES[ItemState.WAITING])
        if failed := batch.states[ItemState.FAILED]:
            text.append(f" · {failed} failed", STATE_STYLES[ItemState.FAILED])
        line = self.query_one("#batch-line", Static)
        line.remove_class("-none")
        line.update(text)

    def _cells(self, item: Item) -> tuple[Text | str, ...]:
        if self.store.held_elsewhere(item):
            answer = Text(OTHER_PROCESS, style="italic")
        elif item.not_saved:
            # Why is in the status line: the column is too narrow at 80 columns.
            answer = Text("not saved", style="bold red")
        elif held := why_held(item, self.queue, self.clock()):
            answer = Text(held[0], style=STATE_STYLES[ItemState.HELD])
            answer.truncate(self.table.column_width("code"), overflow="ellipsis")
        else:
            answer = code_text(item, self.table.column_width("code"))
        return (
            formatting.local_clock(item.created),
            Text(plain(item.hoster or "-", HOSTER_WIDTH)),
            self._state_text(item),
            answer,
            self._download_text(item.id),
            self._link_text(item),
        )

    def _download_text(self, item_id: int) -> Text | str:
        job = self._downloads.get(item_id)
        if job is None:
            return ""
        wide = self.widths.download >= download_text.WIDE_WIDTH
        return download_text.download_cell(job, wide=wide)

    def show_download(self, job: Download) -> None:
        """A download's state or progress changed: repaint its row only (the
        first download shows the column)."""
        first = not self._downloads
        self._downloads[job.item_id] = job
        if first:
            self._fit_columns()
        if not self.built:
            return  # the table is made with the column
        table = self.query_one("#log", VirtualTable)
        if first:
            self.screen.refresh_bindings()  # the footer offers `d`
        key = str(job.item_id)
        if key in table:
            table.refresh_row(key)

    def set_download_totals(self, totals: DownloadTotals) -> None:
        """The status line's totals while files download; hidden when none does."""
        if not self.built:
            return  # the line is made with the table
        line = self.query_one("#download-line", Static)
        text = download_text.totals_line(totals)
        line.set_class(not text, "-none")
        if line.content != text:
            line.update(text, layout=False)

    def _state_text(self, item: Item) -> Text:
        """ "waiting x2 2:53": the state, the attempts past the first, the
        countdown; "gave up after 5" (the header says tries)."""
        text = Text(item.state.value, style=STATE_STYLES[item.state])
        if attempts := gave_up_after(item):
            text = Text(f"gave up after {attempts}", style=STATE_STYLES[item.state])
        elif item.counted_attempts > 1:
            text.append(f" x{item.counted_attempts}")
        held = why_held(item, self.queue, self.clock())
        if held is not None and held[1] is not None:
            # The time the hold ends, not the attempts (in the detail): both
            # do not fit the column.
            until = formatting.local_clock(held[1])
            text = Text(f"{item.state.value} till {until}", style=STATE_STYLES[item.state])
        elif item.state in TIMED_STATES and item.next_attempt_at is not None:
            text.append(f" {formatting.countdown(item.next_attempt_at - self.clock())}")
        return text

    def _link_text(self, item: Item) -> Text:
        width = self.table.column_width("link")
        style = "" if item.location else "dim"
        if shows_file_name(self.widths.link):
            return Text(plain(file_name(item), width), style=style)
        return Text(shorten(plain(item.location or item.link), width), style=style)

    def _tick_countdowns(self) -> None:
        """Once a second, repaint the rows of timed items whose countdown changed."""
        if not self._countdowns:
            self._countdown_timer.pause()
            return
        table = self.table
        for item_id, shown in self._countdowns.items():
            item = self.store.item(item_id)
            if item is None:
                continue
            text = self._state_text(item)
            if text != shown:
                self._countdowns[item_id] = text
                table.refresh_row(str(item_id))

    def on_marking_table_marks_changed(self, _: MarkingTable.MarksChanged) -> None:
        self._show_title()

    def _show_queue(self) -> None:
        if not self.built:
            return  # shown by `build`
        counts = self._counts
        parts: list[tuple[str, str]] = []
        if self.queue.not_saved:
            kept = f", {self.queue.unsaved} kept in memory" if self.queue.unsaved else ""
            why = plain(self.queue.not_saved, 60)
            parts.append((f"⚠ not saved: {why}{kept}; nothing new is sent", "bold red"))
        elif self.queue.paused:
            reason = self.queue.pause_reason
            if reason in (None, PAUSED_BY_USER):
                parts.append(("⏸ paused by you", "bold"))
            else:
                parts.append((f"⏸ paused: {plain(reason, 60)}", "bold"))
        elif self.queue.global_hold_until and self.queue.global_hold_until > self.clock():
            until = formatting.local_clock(self.queue.global_hold_until)
            parts.append((f"⏸ fair use exhausted, on hold until {until}", "bold yellow"))
        else:
            parts.append(("▶ running", "green"))
        for state in ItemState:
            if counts.get(state):
                parts.append((f"  {counts[state]} {state.value}", STATE_STYLES[state]))
        text = Text.assemble(*parts)
        line = self.query_one("#queue-line", Static)
        if line.content != text:
            line.update(text, layout=False)
