"""A VirtualTable whose rows can be marked, to act on several at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from tui.widgets.virtual_table import Cells, RowKey, VirtualTable


class MarkingTable(VirtualTable):
    """Space marks or unmarks the cursor's row, shift+up/down mark on the way,
    `*` marks every row shown (or, when they all are, none), Escape unmarks all
    (and, with none marked, is the screen's).
    Every change posts `MarksChanged`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "space",
            "toggle_mark",
            "Mark",
            show=False,
            id="mark-row",
            tooltip="In the log: mark or unmark the row, to act on the marked rows at once",
        ),
        Binding(
            "shift+up",
            "mark_up",
            "Mark up",
            show=False,
            id="mark-up",
            tooltip="In the log: mark the row and the one above",
        ),
        Binding(
            "shift+down",
            "mark_down",
            "Mark down",
            show=False,
            id="mark-down",
            tooltip="In the log: mark the row and the one below",
        ),
        Binding(
            "asterisk",
            "mark_all",
            "Mark all",
            show=False,
            id="mark-all",
            tooltip="In the log: mark every row shown (when all are: none)",
        ),
        Binding(
            "escape",
            "unmark_all",
            "Unmark all",
            show=False,
            id="unmark-all",
            tooltip="In the log: unmark every row",
        ),
    ]

    class MarksChanged(Message):
        """The marked rows changed; `count` is how many are marked now."""

        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

    def set_marked(self, keys: Iterable[RowKey]) -> None:
        """Mark exactly the rows of `keys` (those that exist); repaints what changed."""
        marked = {key for key in keys if key in self}
        if marked == self.marked:
            return
        changed = marked ^ self.marked
        self.marked = marked
        for key in changed:
            self.refresh_row(key)
        self.post_message(self.MarksChanged(len(marked)))

    def action_toggle_mark(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.set_marked(self.marked ^ {key})

    def _mark_to(self, step: int) -> None:
        """Mark the cursor's row and the one the cursor moves to."""
        key = self.cursor_key
        if key is None:
            return
        self.move_cursor(self.cursor_row + step)
        self.set_marked(self.marked | {key, self.cursor_key or key})

    def action_mark_up(self) -> None:
        self._mark_to(-1)

    def action_mark_down(self) -> None:
        self._mark_to(1)

    def action_mark_all(self) -> None:
        shown = set(self.row_keys)
        self.set_marked(set() if shown <= self.marked else self.marked | shown)

    def action_unmark_all(self) -> None:
        self.set_marked(())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Escape with nothing marked goes on to the screen (which clears the log's filter).
        if action == "unmark_all":
            return bool(self.marked)
        return True

    def remove_row(self, key: RowKey) -> None:
        super().remove_row(key)
        if key in self.marked:
            self.set_marked(self.marked - {key})

    def set_rows(self, rows: Iterable[tuple[RowKey, Cells]]) -> None:
        super().set_rows(rows)
        self.set_marked(self.marked)
