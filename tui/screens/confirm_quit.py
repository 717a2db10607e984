"""The question before quitting with links in the queue or files downloading."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


def quit_question(in_flight: int, waiting: int, downloading: int, *, demo: bool) -> str | None:
    """ "3 links in flight, 5 waiting: they resume at the next start. Quit? y/n",
    "2 files downloading: they go on at the next start. Quit? y/n"; None when
    nothing would be left (the demo's history is deleted at quit: it forgets them)."""
    sentences = []
    if in_flight or waiting:
        one = in_flight + waiting == 1
        links = "link" if one else "links"
        counts = [f"{in_flight} in flight"] if in_flight else []
        if waiting:
            counts.append(f"{waiting} waiting")
        # "3 links in flight, 5 waiting", "1 link waiting"
        first, _, rest = counts[0].partition(" ")
        counts[0] = f"{first} {links} {rest}"
        if demo:
            fate = "the demo forgets it" if one else "the demo forgets them"
        else:
            fate = "it resumes at the next start" if one else "they resume at the next start"
        sentences.append(f"{', '.join(counts)}: {fate}.")
    if downloading:
        one = downloading == 1
        files = "1 file" if one else f"{downloading} files"
        if demo:
            fate = "the demo forgets it" if one else "the demo forgets them"
        else:
            fate = "it goes on at the next start" if one else "they go on at the next start"
        sentences.append(f"{files} downloading: {fate}.")
    return " ".join([*sentences, "Quit? y/n"]) if sentences else None


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
