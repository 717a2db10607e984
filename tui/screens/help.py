"""Help: what every key does (as currently bound) and what each status means."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

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
    app_bindings: list[Binding], screen_bindings: list[Binding], key_display: dict[str, str]
) -> str:
    rows = ["| key | what it does |", "|---|---|"]
    for binding in [*screen_bindings, *app_bindings]:
        if binding.tooltip:
            key = key_display.get(binding.id or "", binding.key)
            rows.append(f"| `{key}` | {binding.tooltip} |")
    rows.append("| `Tab` | Move between the regions |")
    rows.append("| `Enter` | Unlock the pasted links; open the selected log item |")
    rows.append("| `ctrl+p` | Command palette: every action by name |")
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

        app_bindings = [b for b in self.app.BINDINGS if isinstance(b, Binding)]
        screen_bindings = [b for b in DashboardScreen.BINDINGS if isinstance(b, Binding)]
        shown = {
            binding.id: self.app.get_key_display(binding)
            for binding in [*app_bindings, *screen_bindings]
            if binding.id
        }
        text = (
            "# linkdeck keys\n\n"
            + keys_markdown(app_bindings, screen_bindings, shown)
            + "\n\n# Status codes of the service\n\n"
            + codes_markdown()
            + "\n\nKeys can be rebound by id in the `[keymap]` table of the config file,"
            ' e.g. `copy-link = "ctrl+y"`.\n'
        )
        with VerticalScroll(id="help"):
            yield Markdown(text)

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "Help  (esc to close)"
