"""One hoster in full: every domain and pattern, its connections, its status and
the latest unlocks of its links."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tui import formatting
from tui.untrusted import plain
from tui.widgets.hosters import HosterFacts
from tui.widgets.unlock_log import STATE_STYLES, code_text, file_name

if TYPE_CHECKING:
    from tui.api import ConnectionSettings
    from tui.unlock.history import HosterOutcome

LABEL = "{:<13}"


class HosterDetailScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HosterDetailScreen {
        align: center middle;
    }
    #hoster-detail {
        width: 90%;
        max-width: 120;
        height: 1fr;
        margin: 1 0;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="hoster-close", tooltip="Back to the hosters"),
    ]

    def __init__(self, facts: HosterFacts) -> None:
        super().__init__()
        self.facts = facts

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="hoster-detail"):
            yield Static(hoster_text(self.facts), id="hoster-detail-text")
        yield Footer()

    def on_mount(self) -> None:
        scroll = self.query_one("#hoster-detail", VerticalScroll)
        scroll.border_title = Text(f"Hoster · {plain(self.facts.hoster.name, 80)}")
        scroll.focus()


def hoster_text(facts: HosterFacts) -> Text:
    """The whole detail, one section after the other."""
    hoster, now = facts.hoster, facts.now
    text = Text()

    def line(label: str, value: Text | str) -> None:
        text.append(LABEL.format(label), style="dim")
        text.append_text(value if isinstance(value, Text) else Text(value))
        text.append("\n")

    line("status", status_text(facts.outcome, now))
    line("connections", connections_words(facts.connections, own=facts.own_connections))
    text.append(f"\ndomains ({len(hoster.tlds)})\n", style="bold")
    for tld in hoster.tlds:
        text.append(f"  {plain(tld, 200)}\n")
    text.append(f"\npatterns ({len(hoster.regexes)})\n", style="bold")
    skipped = {pattern.pattern: pattern.error for pattern in facts.invalid}
    for pattern in hoster.regexes:
        text.append(f"  {plain(pattern, 400)}\n")
        if pattern in skipped:
            text.append(f"    skipped: {plain(skipped[pattern], 200)}\n", style="bold red")
    text.append("\nrecent unlocks\n", style="bold")
    if not facts.recent:
        text.append("  none in this log\n", style="dim")
    for item in facts.recent:
        text.append(f"  {formatting.local_datetime(item.updated)}  ")
        text.append(item.state.value, style=STATE_STYLES[item.state])
        text.append("  ")
        text.append_text(code_text(item))
        text.append(f"  {plain(file_name(item), 80)}\n")
    return text


def status_text(outcome: HosterOutcome | None, now: float) -> Text:
    if outcome is None:
        return Text("no unlock of its links yet", style="dim")
    if outcome.unavailable_until is not None and outcome.unavailable_until > now:
        text = Text(
            f"unavailable until {formatting.local_clock(outcome.unavailable_until)}",
            style="bold red",
        )
        if outcome.unavailable_since is not None:
            text.append(f" (since {formatting.local_clock(outcome.unavailable_since)})")
        return text
    if outcome.last_ok is not None:
        return Text(f"ok, last unlock {formatting.relative(outcome.last_ok, now)}", style="green")
    return Text("no successful unlock yet", style="dim")


def connections_words(settings: ConnectionSettings | None, *, own: bool) -> str:
    """ "1 per file, 3 for the hoster in all, resume allowed (its own)"."""
    if settings is None:
        return "not given by the service"
    per_file = settings.max_connections_per_file
    per_hoster = settings.max_connections_per_hoster
    parts = [
        f"{per_file if per_file is not None else 'any number'} per file",
        f"{per_hoster if per_hoster is not None else 'any number'} for the hoster in all",
    ]
    if settings.resume is not None:
        parts.append("resume allowed" if settings.resume else "no resume")
    source = "its own" if own else "the service's default"
    return f"{', '.join(parts)} ({source})"
