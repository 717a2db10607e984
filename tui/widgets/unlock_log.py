"""The unlock region: the links input, the queue's state and the live log."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui import formatting
from tui.api import meaning_of
from tui.unlock.items import Item, ItemState, QueueState
from tui.untrusted import plain
from tui.widgets.links_input import LinksInput

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
COLUMNS = ("time", "hoster", "state", "code", "link")
TIME_WIDTH, HOSTER_WIDTH, STATE_WIDTH = 5, 14, 15
ANSWER_MIN, ANSWER_MAX, LINK_MIN = 16, 34, 12
# Cell padding of the five columns.
CHROME_WIDTH = 2 * len(COLUMNS)


def column_widths(table_width: int) -> tuple[int, int]:
    """Widths of the answer and the direct link columns: the link gets what
    the answer leaves, so both fit without a horizontal scrollbar."""
    free = table_width - CHROME_WIDTH - TIME_WIDTH - HOSTER_WIDTH - STATE_WIDTH
    answer = min(max(free // 3, ANSWER_MIN), ANSWER_MAX)
    return answer, max(free - answer, LINK_MIN)


def shorten(text: str, width: int) -> str:
    """Cut the middle out of a long link, keeping its host and file name."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[-(width - 1 - head) :]


def code_text(item: Item, width: int = ANSWER_MAX) -> Text:
    """The last answer in a few words: code and meaning, or why there is none."""
    if item.reused:
        text = Text("reused, no call", style="green")
    elif item.state is ItemState.UNSUPPORTED:
        text = Text("no hoster serves it")
    elif item.status is None:
        text = Text(plain(item.message) or "-", style="dim")
    elif meaning_of(item.status) == "undocumented error":
        text = Text(f"{item.status} {plain(item.message)}")
    else:
        text = Text(f"{item.status} {meaning_of(item.status)}")
    text.truncate(width, overflow="ellipsis")
    return text


class UnlockRegion(Vertical):
    """Links input, queue line and the log table, one row per item, updated in place."""

    def __init__(self, clock: Callable[[], float], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.clock = clock
        self.items: dict[int, Item] = {}
        self.queue = QueueState()
        self.answer_width, self.link_width = column_widths(80)

    def compose(self) -> ComposeResult:
        yield LinksInput(placeholder="paste links, Enter to unlock  (u)", id="links")
        yield Static("", id="queue-line")
        table: DataTable[Text | str] = DataTable(id="log", cursor_type="row")
        self._add_columns(table)
        yield table

    def _add_columns(self, table: DataTable[Text | str]) -> None:
        table.add_column("Time", key="time", width=TIME_WIDTH)
        table.add_column("Hoster", key="hoster", width=HOSTER_WIDTH)
        table.add_column("State, tries", key="state", width=STATE_WIDTH)
        table.add_column("Answer", key="code", width=self.answer_width)
        table.add_column("Direct link", key="link", width=self.link_width)

    def on_mount(self) -> None:
        self.border_title = "Unlock"
        self._show_queue()
        self.set_interval(1, self._tick_countdowns)

    def on_resize(self) -> None:
        """Fit the columns to the new width; a rare event, so rebuilding is fine."""
        widths = column_widths(self.size.width)
        if widths == (self.answer_width, self.link_width):
            return
        self.answer_width, self.link_width = widths
        table = self.table
        cursor = table.cursor_row
        table.clear(columns=True)
        self._add_columns(table)
        for item in self.items.values():
            table.add_row(*self._cells(item), key=str(item.id))
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))

    @property
    def table(self) -> DataTable[Text | str]:
        return self.query_one("#log", DataTable)

    @property
    def selected(self) -> Item | None:
        table = self.table
        if not table.row_count:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self.items.get(int(row_key.value or 0))

    def load(self, items: Iterable[Item]) -> None:
        for item in items:
            self.show(item, scroll=False)
        if self.table.row_count:
            # Not on an empty log: row -1 is the header, which would show as selected.
            self.table.move_cursor(row=self.table.row_count - 1)

    def show(self, item: Item, scroll: bool = True) -> None:
        """Add the item's row, or update only the cells that changed."""
        table = self.table
        cells = self._cells(item)
        key = str(item.id)
        if item.id not in self.items:
            at_end = table.cursor_row >= table.row_count - 1
            table.add_row(*cells, key=key)
            if scroll and at_end:
                table.move_cursor(row=table.row_count - 1)
        else:
            for column, cell in zip(COLUMNS, cells, strict=True):
                if table.get_cell(key, column) != cell:
                    table.update_cell(key, column, cell)
        self.items[item.id] = item
        self._show_queue()

    def remove(self, item_id: int) -> None:
        if self.items.pop(item_id, None) is not None:
            self.table.remove_row(str(item_id))
            self._show_queue()

    def set_queue(self, queue: QueueState) -> None:
        self.queue = queue
        self._show_queue()

    def _cells(self, item: Item) -> tuple[Text | str, ...]:
        return (
            formatting.local_clock(item.created),
            Text(plain(item.hoster or "-", HOSTER_WIDTH)),
            self._state_text(item),
            code_text(item, self.answer_width),
            self._link_text(item),
        )

    def _state_text(self, item: Item) -> Text:
        """ "waiting x2 2:53": the state, the attempts past the first, the countdown."""
        text = Text(item.state.value, style=STATE_STYLES[item.state])
        if item.counted_attempts > 1:
            text.append(f" x{item.counted_attempts}")
        if item.state in TIMED_STATES and item.next_attempt_at is not None:
            text.append(f" {formatting.countdown(item.next_attempt_at - self.clock())}")
        return text

    def _link_text(self, item: Item) -> Text:
        link = plain(item.location or item.link)
        return Text(shorten(link, self.link_width), style="" if item.location else "dim")

    def _tick_countdowns(self) -> None:
        """Once a second, rewrite only the state cells of timed items."""
        table = self.table
        for item in self.items.values():
            if item.state in TIMED_STATES:
                text = self._state_text(item)
                if table.get_cell(str(item.id), "state") != text:
                    table.update_cell(str(item.id), "state", text)

    def _show_queue(self) -> None:
        counts: dict[ItemState, int] = {}
        for item in self.items.values():
            counts[item.state] = counts.get(item.state, 0) + 1
        parts: list[tuple[str, str]] = []
        if self.queue.paused:
            parts.append((f"⏸ paused: {plain(self.queue.pause_reason or 'by you', 60)}", "bold"))
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
