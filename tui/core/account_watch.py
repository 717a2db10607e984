"""The account as the session follows it: the view the panel shows, the
warnings given once per crossing, and the fair-use series."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from typing import TYPE_CHECKING

from tui.api import AccountStatus
from tui.core.events import AccountChanged, AccountView, Connection, Event, FairUseTrend, Notice
from tui.formatting import days_left, percent
from tui.settings import WarningSettings
from tui.unlock.clock import Clock

if TYPE_CHECKING:
    from tui.unlock.history import History

FAIRUSE_SERIES_SECONDS = 7 * 86400
"""The trend's period: what the panel labels "7 days"."""
FAIRUSE_SAMPLE_SECONDS = 600.0
"""One sample this often while the value stays the same."""
FAIRUSE_CHANGE_SECONDS = 300.0
"""At most one sample this often while it changes (the series' size is bounded)."""


class AccountWatch:
    def __init__(self, clock: Clock, emit: Callable[[Event], None]) -> None:
        self._clock = clock
        self._emit = emit
        self.view = AccountView()
        self._warned: set[str] = set()
        self._account_key = ""
        self._last_fairuse: tuple[float, float] | None = None
        self._latest: tuple[float, float] | None = None

    def _show(self, view: AccountView) -> None:
        self.view = view
        self._emit(AccountChanged(view))

    def cached(self, account: AccountStatus, at: float) -> None:
        """The last account seen, marked stale until the first refresh answers."""
        self._show(replace(self.view, account=account, last_ok=at, connection=Connection.STALE))

    def refreshing(self) -> None:
        self._show(replace(self.view, connection=Connection.REFRESHING))

    def problem(self, state: Connection, text: str, retry_at: float | None = None) -> None:
        self._show(replace(self.view, problem=text, next_retry=retry_at, connection=state))

    def failed(self, text: str, retry_at: float) -> None:
        """A refresh failed: stale if there is data to show, else unreachable."""
        state = Connection.STALE if self.view.account is not None else Connection.UNREACHABLE
        self.problem(state, text, retry_at)

    def refreshed(
        self,
        account: AccountStatus,
        at: float,
        warnings: WarningSettings,
        history: History | None,
        account_key: str,
    ) -> None:
        """A refresh of the account of `account_key` answered (one asked before
        a change of account is not sampled for the next one)."""
        low_fairuse = account.fairuse_left < warnings.fairuse_below
        left = days_left(account.expires, at)
        expiring = left is not None and left < warnings.expiry_days_below
        self._show(
            AccountView(
                account=account,
                connection=Connection.OK,
                last_ok=at,
                fairuse_warning=low_fairuse,
                expiry_warning=expiring,
            )
        )
        self._warn_once(
            "fairuse", low_fairuse, f"Fair use is low: {percent(account.fairuse_left)} left"
        )
        if left is not None:
            self._warn_once("expiry", expiring, f"The account expires in {max(int(left), 0)} days")
        if history is None or account_key != self._account_key:
            return
        self._latest = (at, account.fairuse_left)
        if self._fairuse_sample_due(at, account.fairuse_left):
            from tui.unlock.history import HistoryWriteError

            with suppress(HistoryWriteError):  # one sample fewer in the trend
                history.record_fairuse(
                    account_key, at, account.fairuse_left, kept_since=at - FAIRUSE_SERIES_SECONDS
                )
        self.show_trend(history)

    def _warn_once(self, name: str, active: bool, text: str) -> None:
        """Notify when a threshold is crossed, not at every refresh."""
        if active and name not in self._warned:
            self._warned.add(name)
            self._emit(Notice(text, title="Account", severity="warning", timeout=10))
        elif not active:
            self._warned.discard(name)

    def _fairuse_sample_due(self, at: float, value: float) -> bool:
        """A fair-use sample once per 10 minutes, or per 5 while it changes: a
        sample per refresh stored 10,080 rows a week and reloaded them all at
        every refresh. The trend shows the latest value anyway (`_latest`)."""
        last = self._last_fairuse
        if last is not None:
            wait = FAIRUSE_SAMPLE_SECONDS if last[1] == value else FAIRUSE_CHANGE_SECONDS
            if 0 <= at - last[0] < wait:
                return False
        self._last_fairuse = (at, value)
        return True

    def use_account(self, account_key: str, history: History) -> None:
        """From now on, the trend is the series of the account of `account_key`."""
        if account_key != self._account_key:
            self._account_key = account_key
            self._last_fairuse = self._latest = None
        self.show_trend(history)

    def show_trend(self, history: History) -> None:
        since = self._clock.now() - FAIRUSE_SERIES_SECONDS
        samples = history.fairuse_series(self._account_key, since)
        if self._latest is not None and (not samples or samples[-1][0] < self._latest[0]):
            samples.append(self._latest)  # not stored yet: shown all the same
        self._emit(FairUseTrend(tuple(samples)))
