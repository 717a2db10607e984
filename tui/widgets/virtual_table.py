"""A table that renders only the rows on screen (Textual's line API).

A stock DataTable measures every cell when rows are added and renders cells
through Rich for every change, so rebuilding it costs seconds for 10,000 rows,
and its hover cursor repaints every visible row on each mouse move. This table
keeps rows as plain data, renders a row to a `Strip` only when its line is on
screen (cached until the row, the cursor, the width or the styles change),
filters in memory, and has no hover effect.

Columns have a fixed width, or one column is flexible and takes what the
others leave. Cells are `rich.text.Text` or `str`, cut with "…" to the column
width when rendered. A row's cells may also be given as a callable returning
them from the row's key, called only when the row is drawn or read: a log of
100,000 rows then holds only its keys, and reads the few rows on screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

Cell = Text | str
"""What a cell holds: plain text or styled Rich text."""
RowKey = str
Cells = Sequence[Cell] | Callable[[RowKey], Sequence[Cell]]
"""A row's cells, or a callable that makes them from the row's key when the row
is drawn or read (one callable can serve every lazy row)."""
RowPredicate = Callable[[RowKey], bool]

HEADER_LINES = 1
CELL_PADDING = 1
"""Blank columns on each side of every cell, as in a DataTable."""
MARK = "▌"
"""Drawn in the padding before a marked row's first cell."""
_STRIP_CACHE_SIZE = 512
GROWTH_INTERVAL = 0.25
"""Seconds between two growths of the scrollable height while rows keep coming: each
lays the whole screen out again (27 ms on the dashboard), and a paste of 10,000
links adds rows for seconds."""


@dataclass(frozen=True, slots=True)
class Column:
    """A column: `width=None` makes it the flexible one, taking the rest; 0 hides it."""

    key: str
    label: str
    width: int | None = None
    min_width: int = 4
    """The flexible column's width when the others leave less."""


class VirtualTable(ScrollView, can_focus=True):
    """Rows with a cursor, a fixed header, an in-memory filter and optional zebra stripes."""

    ALLOW_MAXIMIZE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first_row", "First row", show=False),
        Binding("end,ctrl+end", "last_row", "Last row", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--even-row",
        "virtual-table--odd-row",
        "virtual-table--marked",
    }
    """
    | Class | Description |
    | :- | :- |
    | `virtual-table--header` | The header line. |
    | `virtual-table--cursor` | The cursor row. |
    | `virtual-table--even-row` | Even rows (from 0) when zebra stripes are on. |
    | `virtual-table--odd-row` | Odd rows when zebra stripes are on. |
    | `virtual-table--marked` | Marked rows (see `marked`). |
    """

    # The same look as a DataTable's, without the hover styles.
    DEFAULT_CSS = """
    VirtualTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;

        &:focus {
            background-tint: $foreground 5%;
            & > .virtual-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .virtual-table--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .virtual-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .virtual-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .virtual-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .virtual-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .virtual-table--marked {
            background: $accent 30%;
            text-style: bold;
        }
        & > .virtual-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    class _RowMessage(Message):
        def __init__(self, table: VirtualTable, key: RowKey, row: int) -> None:
            super().__init__()
            self.table = table
            self.key = key
            self.row = row

        @property
        def control(self) -> VirtualTable:
            return self.table

    class RowHighlighted(_RowMessage):
        """The cursor moved to another row."""

    class RowSelected(_RowMessage):
        """Enter on the cursor row, or a click on it."""

    def __init__(
        self,
        columns: Iterable[Column],
        *,
        zebra_stripes: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.columns: tuple[Column, ...] = tuple(columns)
        if sum(1 for column in self.columns if column.width is None) > 1:
            raise ValueError("at most one column can be flexible")
        self._column_index = {column.key: n for n, column in enumerate(self.columns)}
        self.zebra_stripes = zebra_stripes
        self._cells: dict[RowKey, Cells] = {}
        self._order: list[RowKey] = []
        """Every row, in display order."""
        self._predicate: RowPredicate | None = None
        self._shown: list[RowKey] | None = None
        """The rows the filter lets through, or None when there is no filter."""
        self._positions: dict[RowKey, int] | None = None
        """Lazily built: key to index among the shown rows."""
        self._cursor = 0
        self.marked: set[RowKey] = set()
        """Rows marked (selected for an action), drawn with a mark; kept by
        `set_marked` and left when their row is removed."""
        self._growth: Timer | None = None
        self._grown_at = 0.0
        self._strips: LRUCache[RowKey, tuple[tuple[object, ...], Strip]] = LRUCache(
            _STRIP_CACHE_SIZE
        )
        self._render_token: tuple[object, ...] = ()
        self._widths: tuple[int, tuple[int, ...]] = (-1, ())

    # --- rows -------------------------------------------------------------

    @property
    def _visible(self) -> list[RowKey]:
        return self._order if self._shown is None else self._shown

    @property
    def row_count(self) -> int:
        """How many rows show (the filter's matches)."""
        return len(self._visible)

    @property
    def total_row_count(self) -> int:
        """How many rows the table holds, shown or not."""
        return len(self._order)

    @property
    def row_keys(self) -> list[RowKey]:
        """The keys of the rows that show, in display order (a copy: O(n))."""
        return list(self._visible)

    def __contains__(self, key: object) -> bool:
        return key in self._cells

    def row_index(self, key: RowKey) -> int:
        """The row's index among the shown rows; KeyError if it does not show."""
        return self._position_map()[key]

    def get_row(self, key: RowKey) -> Sequence[Cell]:
        cells = self._cells[key]
        return cells(key) if callable(cells) else cells

    def get_cell(self, key: RowKey, column_key: str) -> Cell:
        """The cell as stored (before it is cut to the column's width)."""
        return self.get_row(key)[self._column_index[column_key]]

    def set_rows(self, rows: Iterable[tuple[RowKey, Cells]]) -> None:
        """Replace every row: O(n), nothing measured. The cursor stays on its
        key if it is still shown, else on the same index."""
        key = self.cursor_key
        self._cells = dict(rows)
        self._order = list(self._cells)
        self._strips.clear()
        self._apply_filter()
        self._restore_cursor(key, fallback=self._cursor)
        self.refresh()

    def upsert_row(self, key: RowKey, cells: Cells) -> None:
        """Add a row at the end, or replace its cells in place; repaints only its line."""
        if key in self._cells:
            self._cells[key] = cells
            self._strips.discard(key)
            if self._predicate is not None and (key in self._position_map()) != self._predicate(
                key
            ):
                cursor_key = self.cursor_key
                self._apply_filter()
                self._restore_cursor(cursor_key, fallback=self._cursor)
                return
            self._refresh_key(key)
            return
        self._cells[key] = cells
        self._order.append(key)
        if self._shown is not None:
            if self._predicate is None or not self._predicate(key):
                return
            self._shown.append(key)
        if self._positions is not None:
            self._positions[key] = len(self._visible) - 1
        self._rows_changed()
        self._refresh_row(len(self._visible) - 1)

    def refresh_row(self, key: RowKey) -> None:
        """Draw the row again (lazy cells are made again): repaints only its line."""
        self._strips.discard(key)
        self._refresh_key(key)

    def update_cell(self, key: RowKey, column_key: str, value: Cell) -> None:
        """Replace one cell of a row (the row's line is repainted if it shows)."""
        cells = list(self.get_row(key))
        cells[self._column_index[column_key]] = value
        self.upsert_row(key, tuple(cells))

    def remove_row(self, key: RowKey) -> None:
        """Remove a row (O(n)); the cursor stays on its index."""
        if key not in self._cells:
            return
        cursor_key = self.cursor_key
        del self._cells[key]
        self._order.remove(key)
        if self._shown is not None and key in self._position_map():
            self._shown.remove(key)
        self._strips.discard(key)
        self._positions = None
        self._rows_changed()
        self._restore_cursor(cursor_key if cursor_key != key else None, fallback=self._cursor)
        self.refresh()

    def clear(self) -> None:
        self.set_rows(())

    # --- filter -----------------------------------------------------------

    def filter(self, predicate: RowPredicate | None) -> None:
        """Show only the rows whose key `predicate` accepts (None: every row).
        O(n) over the keys, no row is rendered; the cursor stays on its key if
        that row still shows, else it goes to the first row."""
        key = self.cursor_key
        self._predicate = predicate
        self._apply_filter()
        self._restore_cursor(key, fallback=0)
        self.refresh()

    def _apply_filter(self) -> None:
        predicate = self._predicate
        self._shown = None if predicate is None else [k for k in self._order if predicate(k)]
        self._positions = None
        self._rows_changed()

    def _position_map(self) -> dict[RowKey, int]:
        if self._positions is None:
            self._positions = {key: n for n, key in enumerate(self._visible)}
        return self._positions

    def _rows_changed(self) -> None:
        """The number of rows changed: update the scrollable height, at once when it
        shrinks, at most every GROWTH_INTERVAL while rows keep coming."""
        height = len(self._visible) + HEADER_LINES
        if height == self.virtual_size.height and self._growth is None:
            return
        if height > self.virtual_size.height and self.is_mounted:
            if self._growth is not None:
                return  # already due
            wait = self._grown_at + GROWTH_INTERVAL - time.monotonic()
            if wait > 0:
                self._growth = self.set_timer(wait, self._grow)
                return
        self._set_height(height)

    def _grow(self) -> None:
        self._growth = None
        self._set_height(len(self._visible) + HEADER_LINES)
        self.scroll_to_row(self._cursor)  # a row beyond the old height can show now

    def _set_height(self, height: int) -> None:
        if self._growth is not None:
            self._growth.stop()
            self._growth = None
        self._grown_at = time.monotonic()
        if self.virtual_size.height != height:
            # A reactive with layout: repaints the table and its scrollbar.
            self.virtual_size = Size(0, height)

    # --- cursor -----------------------------------------------------------

    @property
    def cursor_row(self) -> int:
        """The cursor's index among the shown rows (0 when there are none)."""
        return self._cursor

    @property
    def cursor_key(self) -> RowKey | None:
        visible = self._visible
        return visible[self._cursor] if 0 <= self._cursor < len(visible) else None

    def move_cursor(self, row: int, *, scroll: bool = True) -> None:
        """Put the cursor on the `row`-th shown row (clamped), scrolling it into view."""
        row = max(0, min(row, len(self._visible) - 1))
        old = self._cursor
        self._cursor = row
        if row != old:
            self._refresh_row(old)
            self._refresh_row(row)
        if scroll:
            self.scroll_to_row(row)
        if row != old and (key := self.cursor_key) is not None:
            self.post_message(self.RowHighlighted(self, key, row))

    def _restore_cursor(self, key: RowKey | None, *, fallback: int) -> None:
        row = fallback
        if key is not None and key in self._cells:
            if self._positions is not None:
                row = self._positions.get(key, fallback)
            else:
                # One C-speed scan, cheaper than building the whole map.
                with suppress(ValueError):
                    row = self._visible.index(key)
        self._cursor = max(0, min(row, len(self._visible) - 1))
        if self.is_mounted:
            self.scroll_to_row(self._cursor)
        if (cursor_key := self.cursor_key) is not None and cursor_key != key:
            self.post_message(self.RowHighlighted(self, cursor_key, self._cursor))

    @property
    def _page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - HEADER_LINES)

    def scroll_to_row(self, row: int) -> None:
        """Scroll the least needed to show the `row`-th shown row."""
        if not self.size.height:
            return  # not laid out yet: on_resize does it
        top = min(round(self.scroll_y), self.max_scroll_y)
        page = self._page_rows
        if row < top:
            target = row
        elif row >= top + page:
            target = row - page + 1
        else:
            return
        self.scroll_to(y=target, animate=False, force=True)

    def on_resize(self) -> None:
        self.scroll_to_row(self._cursor)

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self._cursor - self._page_rows)

    def action_page_down(self) -> None:
        self.move_cursor(self._cursor + self._page_rows)

    def action_first_row(self) -> None:
        self.move_cursor(0)

    def action_last_row(self) -> None:
        self.move_cursor(len(self._visible) - 1)

    def action_select_cursor(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowSelected(self, key, self._cursor))

    async def _on_click(self, event: events.Click) -> None:
        """A click puts the cursor on a row; a click on the cursor row selects it."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y < HEADER_LINES:
            return
        row = offset.y - HEADER_LINES + round(self.scroll_y)
        if row >= len(self._visible):
            return
        event.stop()
        if row == self._cursor:
            self.action_select_cursor()
        else:
            self.move_cursor(row)

    # --- rendering --------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def _refresh_key(self, key: RowKey) -> None:
        position = self._position_map().get(key)
        if position is not None:
            self._refresh_row(position)

    def _refresh_row(self, row: int) -> None:
        """Repaint the `row`-th shown row's line if it is on screen."""
        if not self.is_mounted:
            return
        line = row - round(self.scroll_y) + HEADER_LINES
        if HEADER_LINES <= line < self.size.height:
            self.refresh(Region(0, line, self.size.width, 1))

    def column_widths(self, width: int) -> tuple[int, ...]:
        """Each column's text width (padding excluded) when the table is `width` wide."""
        if self._widths[0] == width:
            return self._widths[1]
        # A column of width 0 is hidden: it takes no room, not even its padding.
        chrome = 2 * CELL_PADDING * sum(1 for column in self.columns if column.width != 0)
        fixed = sum(column.width or 0 for column in self.columns)
        rest = width - chrome - fixed
        widths = tuple(
            column.width if column.width is not None else max(rest, column.min_width)
            for column in self.columns
        )
        self._widths = (width, widths)
        return widths

    def column_width(self, column_key: str) -> int:
        """The column's text width at the table's current width."""
        widths = self.column_widths(self.scrollable_content_region.width)
        return widths[self._column_index[column_key]]

    def set_column_width(self, column_key: str, width: int | None) -> None:
        """Give a column a new width (None: make it the flexible one); repaints."""
        index = self._column_index[column_key]
        columns = list(self.columns)
        columns[index] = replace(columns[index], width=width)
        if sum(1 for column in columns if column.width is None) > 1:
            raise ValueError("at most one column can be flexible")
        self.columns = tuple(columns)
        self._widths = (-1, ())
        self._strips.clear()
        self.refresh()

    def set_column_label(self, column_key: str, label: str) -> None:
        """Give a column a new header label; repaints the header."""
        index = self._column_index[column_key]
        columns = list(self.columns)
        columns[index] = replace(columns[index], label=label)
        self.columns = tuple(columns)
        self.refresh(Region(0, 0, self.size.width, HEADER_LINES))

    def render_lines(self, crop: Region) -> list[Strip]:
        # Everything a cached row depends on but its cells, computed once a frame.
        width = self.scrollable_content_region.width
        self._render_token = (
            width,
            self.rich_style,
            self.get_component_rich_style("virtual-table--cursor"),
            self.get_component_rich_style("virtual-table--even-row"),
            self.get_component_rich_style("virtual-table--odd-row"),
            self.get_component_rich_style("virtual-table--marked"),
            self.zebra_stripes,
        )
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y < HEADER_LINES:
            return self._header_strip(width)
        row = y - HEADER_LINES + round(self.scroll_y)
        visible = self._visible
        if row >= len(visible):
            return Strip.blank(width, self.rich_style)
        key = visible[row]
        is_cursor = row == self._cursor
        token = (self._render_token, is_cursor, row % 2, key in self.marked)
        cached = self._strips.get(key)
        if cached is not None and cached[0] == token:
            return cached[1]
        strip = self._row_strip(key, row, is_cursor, width)
        self._strips[key] = (token, strip)
        return strip

    def _header_strip(self, width: int) -> Strip:
        style = self.rich_style + self.get_component_rich_style("virtual-table--header")
        labels = [column.label for column in self.columns]
        return self._strip(labels, width, style, None)

    def _row_strip(self, key: RowKey, row: int, is_cursor: bool, width: int) -> Strip:
        style = self.rich_style
        if self.zebra_stripes:
            stripe = "virtual-table--odd-row" if row % 2 else "virtual-table--even-row"
            style += self.get_component_rich_style(stripe)
        marked = key in self.marked
        if marked:
            style += self.get_component_rich_style("virtual-table--marked")
        cursor_color: Style | None = None
        if is_cursor:
            cursor = self.get_component_rich_style("virtual-table--cursor")
            style += cursor
            # As a DataTable does: the cursor's colour wins over the cell's own.
            cursor_color = Style.from_color(cursor.color)
        return self._strip(self.get_row(key), width, style, cursor_color, marked=marked)

    def _strip(
        self,
        cells: Sequence[Cell],
        width: int,
        style: Style,
        post: Style | None,
        *,
        marked: bool = False,
    ) -> Strip:
        line = Text(no_wrap=True, end="")
        pad = " " * CELL_PADDING
        widths = self.column_widths(width)
        # A column of width 0 is hidden.
        shown = [(cell, cw) for cell, cw in zip(cells, widths, strict=False) if cw]
        for n, (cell, cell_width) in enumerate(shown):
            # A marked row shows its mark in the first cell's padding: seen
            # without colours too.
            line.append(MARK if marked and n == 0 else pad)
            text = Text(cell) if isinstance(cell, str) else cell
            length = text.cell_len
            if length > cell_width:
                text = text.copy()
                text.truncate(cell_width, overflow="ellipsis")
                length = cell_width
            line.append_text(text)
            line.append(" " * (cell_width - length) + pad)
        segments = Segment.apply_style(line.render(self.app.console), style, post)
        return Strip(segments).adjust_cell_length(width, style).simplify()
