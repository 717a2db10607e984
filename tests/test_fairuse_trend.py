"""The fair-use trend is what its label says: seven days, binned in time, of
the account in use only, kept across restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tui.api import AccountStatus
from tui.core.account_watch import FAIRUSE_SERIES_SECONDS, AccountWatch
from tui.core.events import Event, FairUseTrend
from tui.settings import WarningSettings
from tui.unlock import FakeClock
from tui.unlock.history import History
from tui.widgets.account import BARS, GAP, bin_hours, trend_bars

HOUR = 3600.0
DAY = 24 * HOUR
NOW = 1_800_000_000.0  # on a whole 4 hours: the last bin of a 4 h trend starts here


def test_the_trend_bins_seven_days_in_time() -> None:
    width = 42
    assert bin_hours(width) == 4
    samples = [
        (NOW - 8 * DAY, 0.1),  # older than seven days: not shown
        (NOW - 6 * DAY - 1, 0.9),
        # Ten refreshes within ten minutes are one bar, their lowest value.
        *[(NOW + 60 * i, 0.6 - 0.01 * (i % 3)) for i in range(10)],
    ]
    bars = trend_bars(samples, width, NOW + HOUR)
    assert len(bars) == 42  # 7 days of 4 h, not one bar per sample
    assert bars[-1] == BARS[round(0.58 * (len(BARS) - 1))]
    assert bars[-1 - 37] == BARS[-2]  # 6 days and a second ago: the 38th bin back
    assert bars.count(GAP) == 40  # no sample, no bar: nothing is invented
    assert BARS[1] not in bars  # the sample of eight days ago


def test_the_trend_fits_an_80_column_panel() -> None:
    bars = trend_bars([(NOW - 3 * DAY, 0.5)], 30, NOW)
    assert bin_hours(30) == 6 and len(bars) == 28 <= 30


def account(left: float) -> AccountStatus:
    return AccountStatus("someone", "premium", None, left)


def test_the_trend_is_the_accounts_own_and_outlives_a_restart(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    trends: list[tuple[tuple[float, float], ...]] = []

    def emit(event: Event) -> None:
        if isinstance(event, FairUseTrend):
            trends.append(event.samples)

    path = tmp_path / "history.sqlite3"
    warnings = WarningSettings()
    with History(path) as history:
        watch = AccountWatch(clock, emit)
        watch.use_account("first", history)
        watch.refreshed(account(0.8), clock.now(), warnings, history, "first")
        clock.advance(HOUR)
        watch.use_account("second", history)
        assert trends[-1] == ()  # not the first account's
        watch.refreshed(account(0.2), clock.now(), warnings, history, "second")
        # A refresh of the first account that lands after the switch: not the second's.
        watch.refreshed(account(0.7), clock.now(), warnings, history, "first")
        assert trends[-1] == ((NOW + HOUR, 0.2),)
    with History(path) as history:
        watch = AccountWatch(clock, emit)
        watch.use_account("first", history)
        assert trends[-1] == ((NOW, 0.8),)
        # A week later the old sample is gone from the file too.
        clock.advance(FAIRUSE_SERIES_SECONDS)
        watch.refreshed(account(0.5), clock.now(), warnings, history, "first")
        assert trends[-1] == ((clock.now(), 0.5),)
    with sqlite3.connect(path) as db:
        kept = db.execute("SELECT account, at FROM fairuse ORDER BY at").fetchall()
    assert kept == [("second", NOW + HOUR), ("first", clock.now())]


def test_damaged_fairuse_rows_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with History(path) as history:
        history.record_fairuse("first", NOW, 0.5, kept_since=0)
    with sqlite3.connect(path) as db:
        for values in [("first", NOW + 1, "plenty"), ("first", "later", 0.3), ("first", 1e300, 2)]:
            db.execute("INSERT INTO fairuse VALUES (?, ?, ?)", values)
    with History(path) as history:
        samples = history.fairuse_series("first", since=0)
    assert samples == [(NOW, 0.5)]
    assert trend_bars(samples, 40, NOW)
