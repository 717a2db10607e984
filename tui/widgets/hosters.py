"""The hoster table with its filter: by name, by TLD, or by a pasted URL."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Static

from tui import formatting
from tui.api import ConnectionSettings, Hoster, HosterList, HosterMatcher
from tui.unlock.history import HosterOutcome
from tui.untrusted import plain


class HostersRegion(Vertical):
    """Filter input, "12 of 84" count and the table of hosters."""

    def __init__(self, clock: Callable[[], float], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.clock = clock
        self.hosters: HosterList = HosterList(())
        self.matcher = HosterMatcher(())
        self.outcomes: Mapping[str, HosterOutcome] = {}
        self._shown: list[Hoster] = []
        self.problem = ""

    def compose(self) -> ComposeResult:
        with Horizontal(id="hoster-filter-row"):
            search = Input(placeholder="filter: name, TLD or a link  (/)", id="hoster-filter")
            search.cursor_blink = False
            yield search
            yield Static("", id="hoster-count")
        table: DataTable[Text | str] = DataTable(
            id="hoster-table", cursor_type="row", zebra_stripes=True
        )
        table.add_column("Hoster", key="name", width=18)
        table.add_column("Status", key="status", width=24)
        table.add_column("TLDs", key="tlds", width=26)
        table.add_column("Patterns", key="patterns")
        table.add_column("Connections", key="connections")
        yield table

    def on_mount(self) -> None:
        self.border_title = "Hosters"
        self.set_interval(30, self.refresh_statuses)

    @property
    def filter_text(self) -> str:
        return self.query_one("#hoster-filter", Input).value

    def set_hosters(self, hosters: HosterList, matcher: HosterMatcher) -> None:
        self.hosters, self.matcher, self.problem = hosters, matcher, ""
        self._rebuild()

    def set_problem(self, problem: str) -> None:
        """The last refresh failed: say so beside the count, keep the rows."""
        self.problem = problem
        self._show_count()

    def set_outcomes(self, outcomes: Mapping[str, HosterOutcome]) -> None:
        self.outcomes = outcomes
        self.refresh_statuses()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "hoster-filter":
            event.stop()
            self._rebuild()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "hoster-filter":
            event.stop()
            self.query_one("#hoster-table").focus()

    def matching(self, query: str) -> list[Hoster]:
        query = query.strip()
        if not query:
            return list(self.hosters.hosters)
        if "://" in query:
            hoster = self.matcher.match(query)
            return [hoster] if hoster else []
        needle = query.casefold()
        return [
            hoster
            for hoster in self.hosters.hosters
            if needle in hoster.name.casefold()
            or any(needle in tld.casefold() for tld in hoster.tlds)
        ]

    def _rebuild(self) -> None:
        table = self.query_one("#hoster-table", DataTable)
        self._shown = self.matching(self.filter_text)
        table.clear()
        now = self.clock()
        for hoster in self._shown:
            table.add_row(*self._row(hoster, now), key=hoster.name)
        self._show_count()

    def _row(self, hoster: Hoster, now: float) -> tuple[Text | str, ...]:
        settings = hoster.connection_settings or self.hosters.default_connection_settings
        return (
            Text(plain(hoster.name, 18)),
            self._status(hoster.name, now),
            Text(plain(", ".join(hoster.tlds), 26)),
            str(len(hoster.regexes)),
            connections_text(settings),
        )

    def _status(self, name: str, now: float) -> Text:
        outcome = self.outcomes.get(name)
        if outcome is None:
            return Text("")
        if outcome.unavailable_until is not None and outcome.unavailable_until > now:
            until = formatting.local_clock(outcome.unavailable_until)
            return Text(f"unavailable until {until}", style="bold red")
        if outcome.last_ok is not None:
            return Text(f"ok {formatting.relative(outcome.last_ok, now)}", style="green")
        return Text("")

    def refresh_statuses(self) -> None:
        """Repaint only the status cells whose text changed."""
        table = self.query_one("#hoster-table", DataTable)
        now = self.clock()
        for hoster in self._shown:
            status = self._status(hoster.name, now)
            if table.get_cell(hoster.name, "status") != status:
                table.update_cell(hoster.name, "status", status)

    def _show_count(self) -> None:
        total = len(self.hosters.hosters)
        shown = len(self._shown)
        query = self.filter_text.strip()
        if "://" in query and not self._shown:
            text = "no hoster serves this link"
        else:
            text = f"{shown} of {total}"
        if self.matcher.invalid_count:
            text += f" · {self.matcher.invalid_count} bad pattern"
        if self.problem:
            text += f" · refresh failed: {plain(self.problem, 40)}"
        self.query_one("#hoster-count", Static).update(
            Text(text, no_wrap=True, overflow="ellipsis")
        )


def connections_text(settings: ConnectionSettings | None) -> str:
    if settings is None:
        return ""
    parts = []
    per_file, per_hoster = settings.max_connections_per_file, settings.max_connections_per_hoster
    if per_file is not None or per_hoster is not None:
        parts.append(f"{per_file or '-'} per file, {per_hoster or '-'} in all,")
    if settings.resume is not None:
        parts.append("resume" if settings.resume else "no resume")
    return " ".join(parts)
