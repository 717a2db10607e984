"""The hoster table with its filter: by name, by TLD, or by a pasted URL."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Input, Static

from tui import formatting
from tui.api import (
    ConnectionSettings,
    Hoster,
    HosterList,
    HosterMatcher,
    InvalidPattern,
    invalid_summary,
)
from tui.untrusted import plain
from tui.widgets.later_parts import LaterParts
from tui.widgets.virtual_table import CELL_PADDING, Column, VirtualTable

if TYPE_CHECKING:
    from tui.unlock.history import HosterOutcome
    from tui.unlock.items import Item

NAME_WIDTH, TLDS_WIDTH = 18, 26
TLDS_MIN, CONNECTIONS_MAX = 12, 30
EMPTY = Text("")


NO_MATCH = "no hoster serves it"
COUNT_PADDING = 2
"""The count's padding, one column each side (app.tcss)."""


class HosterFilter(Input):
    """The hosters' filter: Enter goes to the table, Escape clears the filter,
    and on an empty one goes back to the table."""

    BINDINGS = [
        Binding("enter", "submit", "To the table", id="filter-submit", tooltip="Go to the table"),
        Binding("escape", "clear_filter", "Clear", id="filter-clear", tooltip="Clear the filter"),
        Binding(
            "escape",
            "screen.leave_input",
            "To the table",
            id="filter-leave",
            tooltip="Leave the filter for the table",
        ),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.cursor_blink = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Escape clears what is typed; once empty, it leaves.
        if action == "clear_filter":
            return bool(self.value)
        return True

    def action_clear_filter(self) -> None:
        self.clear()

    def _watch_value(self, value: str) -> None:
        super()._watch_value(value)
        self.refresh_bindings()


@dataclass(frozen=True)
class HosterFacts:
    """What the hoster's detail shows, as the dashboard knows it when it opens."""

    hoster: Hoster
    connections: ConnectionSettings | None
    """Its own connection settings, or the service's default ones."""
    own_connections: bool
    invalid: Sequence[InvalidPattern]
    """Its patterns that cannot be used (they are skipped)."""
    outcome: HosterOutcome | None
    recent: Sequence[Item]
    """Its latest items of the log, newest first."""
    now: float


class HostersRegion(LaterParts, Vertical):
    """Filter input, "12 of 84" count and the table of hosters.

    The rows are built once per hoster list; a filter keystroke only changes
    which of them show (see VirtualTable.filter), so it costs the same for
    10,000 hosters as a DataTable rebuild costs for a few."""

    def __init__(
        self, clock: Callable[[], float], hosters: HosterList | None = None, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.clock = clock
        self._first = hosters
        """The list shown from the first frame, before its matcher is built."""
        self.hosters: HosterList = HosterList(())
        self.matcher = HosterMatcher(())
        self.outcomes: Mapping[str, HosterOutcome] = {}
        self._haystacks: dict[str, str] = {}
        """Hoster name to its casefolded name and TLDs, one a line: what the filter searches."""
        self._statuses: dict[str, Text] = {}
        """The status cells that are not empty."""
        self.problem = ""
        self._connections_width = len("Connections")
        """The widest connections cell of the list."""

    def compose(self) -> ComposeResult:
        # The filter's input and count come with `build`, right after the first
        # frame; their row keeps their place.
        yield Horizontal(id="hoster-filter-row")
        yield VirtualTable(
            [
                Column("name", "Hoster", NAME_WIDTH),
                Column("status", "Status", 0),
                Column("tlds", "TLDs", min_width=TLDS_MIN),
                Column("patterns", "Patterns", len("Patterns")),
                Column("connections", "Connections", len("Connections")),
            ],
            id="hoster-table",
            zebra_stripes=True,
        )

    async def _build_parts(self) -> None:
        search = HosterFilter(placeholder="filter: name, TLD or a link  (/)", id="hoster-filter")
        count = Static("", id="hoster-count")
        await self.query_one("#hoster-filter-row").mount_all([search, count])

    def _on_built(self) -> None:
        self._show_count()

    def on_mount(self) -> None:
        self.border_title = "Hosters"
        if self._first is not None:
            self.set_hosters(self._first, self.matcher)
            self._first = None
        self.set_interval(30, self.refresh_statuses)

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#hoster-table", VirtualTable)

    @property
    def filter_text(self) -> str:
        return self.query_one("#hoster-filter", Input).value if self.built else ""

    def set_hosters(self, hosters: HosterList, matcher: HosterMatcher) -> None:
        """Show `hosters`; the rows are kept when only the matcher is new (the
        list shown before its matcher was built)."""
        self.matcher, self.problem = matcher, ""
        if hosters is not self.hosters:
            self.hosters = hosters
            now = self.clock()
            self._statuses = {}
            self._haystacks = {
                hoster.name: "\n".join([hoster.name, *hoster.tlds]).casefold()
                for hoster in hosters.hosters
            }
            rows = [(hoster.name, self._row(hoster, now)) for hoster in hosters.hosters]
            self._connections_width = max(
                [len("Connections"), *(len(str(cells[-1])) for _, cells in rows)]
            )
            self.table.set_rows(rows)
            self._fit_columns()
        self._apply_filter()

    def set_problem(self, problem: str) -> None:
        """The last refresh failed: say so beside the count, keep the rows."""
        self.problem = problem
        self._show_count()

    def set_outcomes(self, outcomes: Mapping[str, HosterOutcome]) -> None:
        self.outcomes = outcomes
        self.refresh_statuses()

    def facts(self, name: str, recent: Sequence[Item]) -> HosterFacts | None:
        """What the detail of the hoster `name` shows (None: not in the list)."""
        hoster = next((h for h in self.hosters.hosters if h.name == name), None)
        if hoster is None:
            return None
        return HosterFacts(
            hoster=hoster,
            connections=hoster.connection_settings or self.hosters.default_connection_settings,
            own_connections=hoster.connection_settings is not None,
            invalid=[pattern for pattern in self.matcher.invalid if pattern.hoster == name],
            outcome=self.outcomes.get(name),
            recent=recent,
            now=self.clock(),
        )

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "hoster-filter":
            event.stop()
            self._apply_filter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "hoster-filter":
            event.stop()
            self.table.focus()

    def predicate(self, query: str) -> Callable[[str], bool] | None:
        """Which hoster names the filter `query` lets through (None: all)."""
        query = query.strip()
        if not query:
            return None
        if "://" in query:
            hoster = self.matcher.match(query)
            name = hoster.name if hoster else None
            return lambda key: key == name
        needle = query.casefold()
        # One comprehension over plain strings, then a C-level membership test
        # per row: about 20 ms for 100,000 hosters, where a Python predicate
        # per row costs 100 ms.
        matches = {name for name, haystack in self._haystacks.items() if needle in haystack}
        return matches.__contains__

    def _apply_filter(self) -> None:
        self.table.filter(self.predicate(self.filter_text))
        self._show_count()

    def _row(self, hoster: Hoster, now: float) -> tuple[Text | str, ...]:
        settings = hoster.connection_settings or self.hosters.default_connection_settings
        status = self._status(hoster.name, now)
        if status:
            self._statuses[hoster.name] = status
        return (
            plain(hoster.name, NAME_WIDTH),
            status,
            plain(", ".join(hoster.tlds), TLDS_WIDTH),
            str(len(hoster.regexes)),
            connections_text(settings),
        )

    def _status(self, name: str, now: float) -> Text:
        outcome = self.outcomes.get(name)
        if outcome is None:
            return Text("")
        if outcome.unavailable_until is not None and outcome.unavailable_until > now:
            until = formatting.local_clock(outcome.unavailable_until)
            return Text(f"down until {until}", style="bold red")
        if outcome.last_ok is not None:
            return Text(f"ok {formatting.relative(outcome.last_ok, now)}", style="green")
        return Text("")

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_columns)

    def _fit_columns(self) -> None:
        """Each column as wide as what it shows, by priority: the name, the
        status (hidden while no hoster has one), the connections, the TLDs
        (the rest), and the pattern count when there is room for it."""
        table = self.table
        width = table.scrollable_content_region.width
        if not width:
            return  # not laid out yet: `on_resize` comes
        status = max((text.cell_len for text in self._statuses.values()), default=0)
        widths = {
            "status": max(status, len("Status")) if status else 0,
            "connections": min(self._connections_width, CONNECTIONS_MAX),
            "patterns": len("Patterns"),
        }

        def room_for_tlds() -> int:
            shown = 2 + sum(1 for w in widths.values() if w)  # the name and the TLDs too
            return width - 2 * CELL_PADDING * shown - NAME_WIDTH - sum(widths.values())

        if room_for_tlds() < TLDS_MIN:
            widths["patterns"] = 0
        if room_for_tlds() < TLDS_MIN:
            widths["connections"] = max(widths["connections"] + room_for_tlds() - TLDS_MIN, 0)
        columns = {column.key: column.width for column in table.columns}
        for key, column_width in widths.items():
            if columns[key] != column_width:
                table.set_column_width(key, column_width)

    def refresh_statuses(self) -> None:
        """Repaint only the status cells whose text changed: those of hosters
        with an outcome, and those that showed one before."""
        table = self.table
        now = self.clock()
        for name in set(self.outcomes) | set(self._statuses):
            if name not in table:
                continue
            status = self._status(name, now)
            if status != self._statuses.get(name, EMPTY):
                table.update_cell(name, "status", status)
            if status:
                self._statuses[name] = status
            else:
                self._statuses.pop(name, None)
        self._fit_columns()

    def _show_count(self) -> None:
        if not self.built:
            return  # shown by `build`
        total = len(self.hosters.hosters)
        shown = self.table.row_count
        query = self.filter_text.strip()
        count = NO_MATCH if "://" in query and not shown else f"{shown} of {total}"
        # Which patterns the list has that cannot be used: on the frame, out
        # of the filter's way.
        self.border_subtitle = Content(invalid_summary(self.matcher.invalid))  # not markup
        suffix = f" · refresh failed: {plain(self.problem, 40)}" if self.problem else ""
        label = self.query_one("#hoster-count", Static)
        # As wide as the widest count of this list: the filter beside it keeps
        # its width while the count changes at each keystroke.
        widest = max(len(NO_MATCH), len(f"{total} of {total}")) + len(suffix)
        label.styles.width = widest + COUNT_PADDING
        label.update(Text(count + suffix, no_wrap=True, overflow="ellipsis"))


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
