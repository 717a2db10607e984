"""The question before quitting with links in the queue."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmQuitScreen(ModalScreen[bool]):
    """Says what is still in the queue; y quits, n or Escape stays."""

    DEFAULT_CSS = """
    ConfirmQuitScreen {
        align: center middle;
    }
    ConfirmQuitScreen > Vertical {
        width: 80%;
        max-width: 72;
        height: auto;
        border: round $warning;
        padding: 0 1;
        background: $surface;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Quit", id="quit-yes", tooltip="Quit now"),
        Binding("n,escape", "answer(False)", "Stay", id="quit-no", tooltip="Do not quit"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = "Quit?"
            yield Static(self.question, id="quit-question", markup=False)

    def action_answer(self, quit_now: bool) -> None:
        self.dismiss(quit_now)
