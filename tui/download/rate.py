"""One total rate limit (bytes per second) shared by every connection of
every download: a token bucket that may go into debt.

A connection takes the bytes it has just read; it waits while the bucket is
in debt, then takes all it read at once (a read is never split), so the
bytes taken over any stretch of time stay within `rate` per second plus the
small `burst` a bucket that was idle holds. Waiters take in the order they
came, so a connection whose next read is there at once cannot starve the
others. A change of rate applies to the debt at once (waiters look again at
least every `MAX_WAIT` seconds): from a slow rate to a fast one, or to 0 (no
limit), no connection sleeps on.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable

BURST_SECONDS = 0.1
MAX_WAIT = 0.25


class RateLimiter:
    def __init__(
        self,
        rate: int = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._rate = max(0, rate)
        self._clock, self._sleep = clock, sleep
        self._free_at = clock()
        """When the bucket is out of debt; `burst` before now when it is full."""
        self._line: collections.deque[object] = collections.deque()
        """Who waits, in the order they came: the first takes when the bucket is free."""

    @property
    def rate(self) -> int:
        """Bytes per second; 0 for no limit."""
        return self._rate

    @rate.setter
    def rate(self, rate: int) -> None:
        now = self._clock()
        debt = max(0.0, self._free_at - now) * self._rate
        self._rate = max(0, rate)
        self._free_at = now + debt / self._rate if self._rate else now

    async def take(self, count: int) -> None:
        """Wait until `count` bytes more keep the total within the rate, in
        turn: a connection that asks again at once waits behind the others."""
        if not self._rate:
            return
        turn = object()
        self._line.append(turn)
        try:
            while self._rate:
                now = self._clock()
                wait = self._free_at - now
                if wait <= 0 and self._line[0] is turn:
                    self._free_at = max(self._free_at, now - BURST_SECONDS) + count / self._rate
                    return
                await self._sleep(min(max(wait, 0.0), MAX_WAIT))
        finally:
            self._line.remove(turn)
