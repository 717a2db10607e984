"""Help: what every key does (as currently bound) and what each status means."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

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


def keys_markdown(
    bindings: list[Binding], keymap: dict[str, str], display: Callable[[Binding], str]
) -> str:
    rows = ["| key | what it does | id (for `[keymap]`) |", "|---|---|---|"]
    for binding in bindings:
        if binding.tooltip and binding.id:
            key = keymap.get(binding.id) or display(binding)
            rows.append(f"| `{key}` | {binding.tooltip} | `{binding.id}` |")
    rows.append("| `tab` | Move between the regions | |")
    rows.append("| `enter` | Unlock the pasted links; open the selected log item | |")
    rows.append("| `ctrl+p` | Command palette: every action by name | |")
    return "\n".join(rows)


def codes_markdown() -> str:
    rows = ["| code | meaning | what linkdeck does |", "|---|---|---|"]
    for status, cls in sorted(STATUS_ERRORS.items()):
        rows.append(f"| {status} | {cls.meaning} | {ADVICE_TEXT[status]} |")
    rows.append(f"| 0, 2 | {UndocumentedError.meaning} | the item ends with the server's message |")
    rows.append("| 500+ | undocumented server error | retried after 3 minutes |")
    rows.append("| - | unreachable or malformed answer | retried after 3 minutes |")
    return "\n".join(rows)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding(
            "escape,question_mark,q", "dismiss", "Close", id="help-close", tooltip="Close the help"
        ),
    ]

    def compose(self) -> ComposeResult:
        from tui.screens.dashboard import DashboardScreen

        bindings = [
            binding
            for binding in [*DashboardScreen.BINDINGS, *self.app.BINDINGS]
            if isinstance(binding, Binding)
        ]
        keymap = dict(self.app.settings.keymap)  # type: ignore[attr-defined]
        text = (
            "# linkdeck keys\n\n"
            + keys_markdown(bindings, keymap, self.app.get_key_display)
            + "\n\n# Status codes of the service\n\n"
            + codes_markdown()
            + "\n\nKeys can be rebound by id in the `[keymap]` table of the config file,"
            ' e.g. `copy-link = "ctrl+y"`.\n'
        )
        with VerticalScroll(id="help"):
            yield Markdown(text)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "Help  (esc to close)"
