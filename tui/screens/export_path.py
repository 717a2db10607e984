"""The question before an export: into which folder."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ExportPathScreen(ModalScreen[Path | None]):
    """Asks for the folder of an export, offering `folder`; dismissed with the
    folder chosen (`~` expanded), or None when Escape cancels."""

    DEFAULT_CSS = """
    ExportPathScreen {
        align: center middle;
    }
    ExportPathScreen > Vertical {
        width: 80%;
        max-width: 100;
        height: auto;
        border: round $accent;
        padding: 0 1;
        background: $surface;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="export-cancel", tooltip="Export nothing"),
    ]

    def __init__(self, folder: Path, what: str) -> None:
        super().__init__()
        self.folder = folder
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = "Export"
            yield Static(f"Export {self.what} into the folder (Enter exports, Escape cancels):")
            yield Input(str(self.folder), id="export-folder")

    @on(Input.Submitted, "#export-folder")
    def chosen(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(Path(event.value.strip()).expanduser())
        else:
            self.notify("Type the folder to export into", severity="warning", timeout=3)

    def action_cancel(self) -> None:
        self.dismiss(None)
