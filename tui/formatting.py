"""Human wording of times, sizes and fractions, shared by the CLI and the UI."""

from __future__ import annotations

import time


def local_datetime(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def local_clock(timestamp: float) -> str:
    return time.strftime("%H:%M", time.localtime(timestamp))


def span(seconds: float) -> str:
    """A rough duration: "45 s", "12 min", "3 h", "29 days"."""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h"
    # Rounded: an account bought for 30 days shows "in 30 days", not 29.
    return f"{round(seconds / 86400)} days"


def duration(seconds: float) -> str:
    """An exact duration in the largest whole unit: "3 minutes", "1 hour", "90 seconds"
    (a setting shown as "1 min" when it is 90 s would mislead)."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            return _count(int(seconds // size), unit)
    return _count(int(seconds) if float(seconds).is_integer() else seconds, "second")


def _count(number: float, unit: str) -> str:
    return f"{number} {unit}" if number == 1 else f"{number} {unit}s"


def relative(timestamp: float, now: float) -> str:
    """ "in 29 days" or "3 min ago"."""
    delta = timestamp - now
    if abs(delta) < 1:
        return "now"
    return f"in {span(delta)}" if delta > 0 else f"{span(delta)} ago"


def ago(timestamp: float, now: float) -> str:
    """ "just now" under a minute, else "3 min ago": a line that says it changes
    once a minute, not every second."""
    return "just now" if now - timestamp < 60 else relative(timestamp, now)


def expiry(expires: int | None, now: float) -> str:
    if expires is None:
        return "no expiry"
    return f"{local_datetime(expires)} ({relative(expires, now)})"


def days_left(expires: int | None, now: float) -> float | None:
    return None if expires is None else (expires - now) / 86400


def percent(fraction: float) -> str:
    return f"{fraction * 100:.0f}%"


def countdown(seconds: float) -> str:
    """ "2:59" style, for retry timers and time left; "1:15:00" from an hour."""
    seconds = max(int(seconds + 0.999), 0)
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}:{secs:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


LONG_TIME_LEFT = 100 * 3600
"""From here a time left is said in days: "123:45:06" is too wide for the
Download column, and a second's precision means nothing then."""


def time_left(seconds: float) -> str:
    """ "0:18", "1:15:00"; from 100 hours in whole days ("8d", at most ">999d")."""
    if seconds < LONG_TIME_LEFT:
        return countdown(seconds)
    days = int(seconds // 86400)
    return f"{days}d" if days <= 999 else ">999d"


def size(num_bytes: int | None) -> str:
    if num_bytes is None:
        return ""
    value = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def speed(bytes_per_second: float) -> str:
    """ "23.4 MB/s"."""
    return f"{size(int(bytes_per_second))}/s"
