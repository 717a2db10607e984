"""An Input that keeps every line of a bracketed paste."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import Input


class LinksInput(Input):
    """Pasting fifty links, one per line, keeps all fifty (space-separated)."""

    BINDINGS = [
        Binding("enter", "submit", "Unlock", id="links-submit", tooltip="Queue the links"),
        Binding(
            "escape",
            "screen.leave_input",
            "Back to the log",
            id="links-leave",
            tooltip="Leave the input for the log",
        ),
    ]

    def __init__(self, **kwargs: object) -> None:
        # No blinking cursor: an idle dashboard writes nothing to the terminal.
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.cursor_blink = False

    def _on_paste(self, event: events.Paste) -> None:
        if event.text:
            self.replace(" ".join(event.text.split()), *self.selection)
        event.stop()
        # Input._on_paste would run next (Textual calls the handler of every class
        # in the MRO) and insert the first line a second time.
        event.prevent_default()
