"""Help: what every key does (as currently bound) and what each status means.

Drawn as Rich tables in one Static: a Markdown document with two tables took
0.3 to 0.6 s to build each time the help opened. The screen shows what it is
given: the app knows its bindings, and its settings give the policy's delays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tui.unlock.policy import StatusRow


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_style="bold", title_justify="left", expand=True)
    for column in columns:
        table.add_column(Text(column))  # Text: "[keymap]" is not markup
    return table


def keys_table(
    bindings: Iterable[Binding], keymap: Mapping[str, str], display: Callable[[Binding], str]
) -> Table:
    table = _table("linkdeck keys", "key", "what it does", "id (for [keymap])")
    listed: set[str] = set()
    for binding in bindings:
        # One line per id: "Pause" and "Resume" are one key.
        if binding.tooltip and binding.id and binding.id not in listed:
            listed.add(binding.id)
            key = keymap.get(binding.id) or display(binding)
            table.add_row(Text(key, style="bold"), binding.tooltip, binding.id)
    table.add_row(Text("tab", style="bold"), "Move between the regions", "")
    table.add_row(
        Text("enter", style="bold"),
        "Unlock the pasted links; open the selected log item or hoster",
        "",
    )
    table.add_row(
        Text("enter / esc", style="bold"),
        "In the log's search: keep it and go back to the log / clear it",
        "",
    )
    table.add_row(Text("ctrl+p", style="bold"), "Command palette: every action by name", "")
    return table


def codes_table(rows: Iterable[StatusRow]) -> Table:
    table = _table("Status codes of the service", "code", "meaning", "what linkdeck does")
    for row in rows:
        table.add_row(*row)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding(
            "escape,question_mark,q", "dismiss", "Close", id="help-close", tooltip="Close the help"
        ),
    ]

    def __init__(
        self,
        bindings: Iterable[BindingType],
        keymap: Mapping[str, str],
        key_display: Callable[[Binding], str],
        status_rows: Iterable[StatusRow],
    ) -> None:
        """`keymap` is the [keymap] of the settings; `status_rows` the policy's
        (`tui.unlock.policy.status_rows`) for the current settings."""
        super().__init__()
        # Not `_bindings` nor `_keymap`: Textual's Screen has both.
        self._listed_bindings = [binding for binding in bindings if isinstance(binding, Binding)]
        self._listed_keymap = keymap
        self._key_display = key_display
        self._status_rows = list(status_rows)

    def compose(self) -> ComposeResult:
        note = Text.from_markup(
            "Keys can be rebound by id in the [bold]\\[keymap][/] table of the config file, "
            'e.g. [bold]copy-link = "ctrl+y"[/].'
        )
        content = Group(
            keys_table(self._listed_bindings, self._listed_keymap, self._key_display),
            "",
            codes_table(self._status_rows),
            "",
            note,
        )
        with VerticalScroll(id="help"):
            yield Static(content)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "Help  (esc to close)"
