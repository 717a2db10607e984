"""Help: what every key does (as currently bound) and what each status means.

Drawn as Rich tables in one Static: a Markdown document with two tables took
0.3 to 0.6 s to build each time the help opened.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tui.api.errors import STATUS_ERRORS, UndocumentedError

ADVICE_TEXT = {
    400: "the item ends",
    401: "the queue pauses until the login is fixed in settings; no link is lost",
    402: "the item ends and the queue pauses: the account cannot download",
    403: "the item ends",
    404: "the item ends: the file is gone",
    428: "the item ends; other links of that hoster wait 30 minutes",
    502: "retried after 3 minutes, up to the attempt limit",
    503: "retried after 3 minutes, up to the attempt limit",
    509: "every link waits 10 minutes",
}


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_style="bold", title_justify="left", expand=True)
    for column in columns:
        table.add_column(Text(column))  # Text: "[keymap]" is not markup
    return table


def keys_table(
    bindings: list[Binding], keymap: dict[str, str], display: Callable[[Binding], str]
) -> Table:
    table = _table("linkdeck keys", "key", "what it does", "id (for [keymap])")
    for binding in bindings:
        if binding.tooltip and binding.id:
            key = keymap.get(binding.id) or display(binding)
            table.add_row(Text(key, style="bold"), binding.tooltip, binding.id)
    table.add_row(Text("tab", style="bold"), "Move between the regions", "")
    table.add_row(
        Text("enter", style="bold"), "Unlock the pasted links; open the selected log item", ""
    )
    table.add_row(Text("ctrl+p", style="bold"), "Command palette: every action by name", "")
    return table


def codes_table() -> Table:
    table = _table("Status codes of the service", "code", "meaning", "what linkdeck does")
    for status, cls in sorted(STATUS_ERRORS.items()):
        table.add_row(str(status), cls.meaning, ADVICE_TEXT[status])
    table.add_row("0, 2", UndocumentedError.meaning, "the item ends with the server's message")
    table.add_row("500+", "undocumented server error", "retried after 3 minutes")
    table.add_row("-", "unreachable or malformed answer", "retried after 3 minutes")
    table.add_row(
        "-", "certificate not trusted", "nothing is sent; the queue pauses until it is trusted"
    )
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding(
            "escape,question_mark,q", "dismiss", "Close", id="help-close", tooltip="Close the help"
        ),
    ]

    def __init__(
        self,
        bindings: list[Binding],
        keymap: dict[str, str],
        key_display: Callable[[Binding], str],
    ) -> None:
        super().__init__()
        self.bindings = bindings
        self.keymap = keymap
        self.key_display = key_display

    def compose(self) -> ComposeResult:
        note = Text.from_markup(
            "Keys can be rebound by id in the [bold]\\[keymap][/] table of the config file, "
            'e.g. [bold]copy-link = "ctrl+y"[/].'
        )
        content = Group(
            keys_table(self.bindings, self.keymap, self.key_display), "", codes_table(), "", note
        )
        with VerticalScroll(id="help"):
            yield Static(content)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "Help  (esc to close)"
