"""The account panel: who, until when, how much fair use is left, and whether
the data is fresh."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import ProgressBar, Static

from tui import formatting
from tui.api import AccountStatus
from tui.core.account_watch import FAIRUSE_SERIES_SECONDS
from tui.core.events import AccountView, Connection
from tui.untrusted import plain
from tui.widgets.later_parts import LaterParts


class AccountPanel(LaterParts, Vertical):
    """Reactive view of the account, set from the session's `AccountView`.

    The watchers update only the lines that changed: `repaint=False`, or every
    refresh would repaint the whole panel (about 2.4 KB to the terminal).
    """

    account: reactive[AccountStatus | None] = reactive(None, init=False, repaint=False)
    connection: reactive[Connection] = reactive(Connection.WAITING, init=False, repaint=False)
    last_ok: reactive[float | None] = reactive(None, init=False, repaint=False)
    next_retry: reactive[float | None] = reactive(None, init=False, repaint=False)
    problem: reactive[str] = reactive("", init=False, repaint=False)
    fairuse_warning: reactive[bool] = reactive(False, init=False, repaint=False)
    expiry_warning: reactive[bool] = reactive(False, init=False, repaint=False)

    def __init__(
        self, clock: Callable[[], float], view: AccountView | None = None, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.clock = clock
        self.fairuse_samples: tuple[tuple[float, float], ...] = ()
        self._trend_hour: float | None = None
        """The hour the trend was drawn in."""
        # The view to start from is set without the watchers (the lines are drawn
        # at mount), and its classes before the first style pass: a class change
        # restyles the panel.
        view = view or AccountView()
        self.set_reactive(AccountPanel.account, view.account)
        self.set_reactive(AccountPanel.last_ok, view.last_ok)
        self.set_reactive(AccountPanel.next_retry, view.next_retry)
        self.set_reactive(AccountPanel.problem, view.problem)
        self.set_reactive(AccountPanel.connection, view.connection)
        self.set_reactive(AccountPanel.fairuse_warning, view.fairuse_warning)
        self.set_reactive(AccountPanel.expiry_warning, view.expiry_warning)
        self.set_class(view.account is None, "-no-data", update=False)

    def compose(self) -> ComposeResult:
        yield Static("", id="account-identity")
        yield Static("", id="account-expiry", classes="-warning" if self.expiry_warning else None)
        # The fair-use bar comes with `build`, right after the first frame.
        with Horizontal(id="fairuse-row", classes="-warning" if self.fairuse_warning else None):
            yield Static("fair use", id="fairuse-label")
        with Horizontal(id="fairuse-trend"):
            yield Static("7 days", id="fairuse-trend-label")
            yield Static("", id="fairuse-history")
        yield Static("", id="account-connection")

    async def _build_parts(self) -> None:
        bar = ProgressBar(total=100, show_eta=False, id="fairuse-bar")
        await self.query_one("#fairuse-row").mount(bar)

    def _on_built(self) -> None:
        self._show_account()

    def on_mount(self) -> None:
        self.border_title = "Account"
        self._show_account()
        self._show_connection()
        # Ages such as "3 min ago" need a tick; it repaints only what changed
        # (the connection line, a bar of the trend when an hour turns), and
        # nothing while another screen covers the dashboard.
        self.set_interval(1, self._tick)

    def _tick(self) -> None:
        if self.screen.is_current:
            self._show_connection()
            if self._trend_hour != self.clock() // 3600:
                self._show_trend()  # bins are whole hours: a new one may begin

    def show(self, view: AccountView) -> None:
        self.account = view.account
        self.last_ok = view.last_ok
        self.next_retry = view.next_retry
        self.problem = view.problem
        self.connection = view.connection
        self.fairuse_warning = view.fairuse_warning
        self.expiry_warning = view.expiry_warning

    def set_fairuse_history(self, samples: tuple[tuple[float, float], ...]) -> None:
        self.fairuse_samples = samples
        self._show_trend()

    def on_resize(self) -> None:
        self._show_trend()
        self._show_account()
        self._show_connection()  # the server's reason gets the room there is

    def _show_trend(self) -> None:
        trend = self.query_one("#fairuse-history", Static)
        width, now = trend.size.width or 40, self.clock()
        self._trend_hour = now // 3600
        _set(trend, Text(trend_bars(self.fairuse_samples, width, now), "cyan"))
        tooltip = (
            f"Fair use left over the last 7 days: one bar per {bin_hours(width)} h "
            "(its lowest value), a blank where no sample was taken"
        )
        if trend.tooltip != tooltip:
            trend.tooltip = tooltip

    def watch_account(self) -> None:
        self._show_account()

    def watch_fairuse_warning(self, warning: bool) -> None:
        self.query_one("#fairuse-row").set_class(warning, "-warning")

    def watch_expiry_warning(self, warning: bool) -> None:
        self.query_one("#account-expiry").set_class(warning, "-warning")

    def watch_connection(self) -> None:
        self._show_connection()

    def watch_last_ok(self) -> None:
        self._show_connection()

    def watch_next_retry(self) -> None:
        self._show_connection()

    def watch_problem(self) -> None:
        self._show_connection()

    def _show_account(self) -> None:
        account = self.account
        identity = self.query_one("#account-identity", Static)
        expiry = self.query_one("#account-expiry", Static)
        self.set_class(account is None, "-no-data")
        if account is None:
            _set(identity, Text("no account data yet", style="dim"))
            _set(expiry, Text(""))
            return
        can = "can download" if account.can_download else "cannot download"
        # Name and type come from the server: cut (by cells, for wide characters)
        # so that whether the account can download always shows.
        room = max((identity.size.width or 56) - len(can) - 5, 8)
        kind = Text(plain(account.type, 20))
        kind.truncate(min(20, max(room // 3, 4)), overflow="ellipsis")
        name = Text(plain(account.account_name, 40), "bold")
        name.truncate(min(40, max(room - kind.cell_len, 4)), overflow="ellipsis")
        line = Text.assemble(
            name, "  ", kind, "  ", (can, "" if account.can_download else "bold red")
        )
        _set(identity, line)
        ends = formatting.expiry(account.expires, self.clock())
        _set(expiry, Text(ends if account.expires is None else f"expires {ends}"))
        if self.built:
            bar = self.query_one("#fairuse-bar", ProgressBar)
            bar.update(progress=round(account.fairuse_left * 100, 1))

    def _show_connection(self) -> None:
        now = self.clock()
        state = self.connection
        line = self.query_one("#account-connection", Static)
        parts: list[tuple[str, str]] = []
        if state is Connection.OK and self.last_ok is not None:
            parts.append(("● ok", "green"))
            parts.append((f"  refreshed {_when(self.last_ok, now)}", "dim"))
        elif state is Connection.REFRESHING:
            parts.append(("◌ refreshing…", "cyan"))
        elif state is Connection.LOGIN_FAILED:
            parts.append(("✗ login failed", "bold red"))
            parts.append(("  press s to fix the login or PIN", ""))
        elif state in (Connection.STALE, Connection.UNREACHABLE):
            if self.account is not None and self.last_ok is not None:
                parts.append(("◐ stale", "bold yellow"))
                parts.append((f"  data from {formatting.relative(self.last_ok, now)}", ""))
            else:
                parts.append(("✗ unreachable", "bold red"))
            retry = ""
            if self.next_retry is not None:
                retry = f" · retry {formatting.local_clock(self.next_retry)}"
            # The server's reason gets what room is left: when to retry always shows.
            used = sum(len(text) for text, _ in parts) + len(retry) + 3
            room = (line.size.width or 76) - used
            if room >= 8:
                parts.append((f" · {plain(self.problem, room)}", "dim"))
            parts.append((retry, ""))
        else:
            parts.append(("◌ connecting…", "dim"))
        _set(line, Text.assemble(*parts))


def _when(at: float, now: float) -> str:
    """ "08:10, 3 min ago": the clock time, and how long ago it is, which moves."""
    return f"{formatting.local_clock(at)}, {formatting.ago(at, now)}"


BARS = "▁▂▃▄▅▆▇█"
GAP = " "
TREND_HOURS = round(FAIRUSE_SERIES_SECONDS / 3600)


def bin_hours(width: int) -> int:
    """Whole hours per bar, the fewest for the seven days to fit in `width`."""
    return max(math.ceil(TREND_HOURS / max(width, 1)), 1)


def trend_bars(samples: Sequence[tuple[float, float]], width: int, now: float) -> str:
    """The last seven days of fair use, one bar per `bin_hours` (bins on the
    clock's whole hours, so they stay put as time passes), each the lowest
    sample in it, on an absolute 0..100 % scale (a min..max scale would turn a
    1 % dip into a cliff). A bin without a sample is a gap: nothing is invented."""
    span = bin_hours(width) * 3600
    bins = math.ceil(FAIRUSE_SERIES_SECONDS / span)
    last = math.floor(now / span)
    lowest: dict[int, float] = {}
    for at, value in samples:
        index = math.floor(at / span)
        if last - bins < index <= last:
            lowest[index] = min(value, lowest.get(index, value))
    return "".join(
        _bar(lowest[index]) if index in lowest else GAP
        for index in range(last - bins + 1, last + 1)
    )


def _bar(value: float) -> str:
    return BARS[round(min(max(value, 0.0), 1.0) * (len(BARS) - 1))]


def _set(widget: Static, text: Text) -> None:
    """Update a one-line Static without a re-layout, and not at all when
    nothing changed, so an idle dashboard writes nothing to the terminal."""
    text.no_wrap, text.overflow = True, "ellipsis"
    if widget.content != text:
        widget.update(text, layout=False)
