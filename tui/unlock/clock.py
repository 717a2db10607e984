"""Time for the unlock engine: the real clock, and a fake one tests drive by hand.

Two clocks: `now()` is wall time, for what is shown and stored; `monotonic()`
and `sleep` are for waiting, so a wall clock stepped back an hour does not
stretch a 3-minute retry into an hour.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from pathlib import Path
from typing import NamedTuple, Protocol

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


class BootTime(NamedTuple):
    """Which boot of the machine, the seconds since it (suspend included), and the
    wall time then: two of these tell whether the wall clock was set ahead."""

    boot: str
    since_boot: float
    wall: float


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never steps, for deadlines."""
        ...

    def boot_time(self) -> BootTime | None:
        """Now on the machine's boot clock, or None where there is none."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def boot_time(self) -> BootTime | None:
        try:  # Linux: the boot's id, and a clock that counts a suspend too
            boot = _BOOT_ID.read_text().strip()
            return BootTime(boot, time.clock_gettime(time.CLOCK_BOOTTIME), time.time())
        except (OSError, AttributeError):
            return None

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class FakeClock:
    """A clock that only moves when `advance` is called.

    Sleepers wake in deadline order once `advance` passes their deadline; the
    woken coroutines run at the caller's next await.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._elapsed = 0.0
        self._wall_start = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._wall_start + self._elapsed

    def monotonic(self) -> float:
        return self._elapsed

    def boot_time(self) -> BootTime | None:
        return BootTime("fake boot", self._elapsed, self.now())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._elapsed + seconds, next(self._order), future))
        await future

    def step_wall(self, seconds: float) -> None:
        """Set the wall clock forward (or back, when negative) without time passing."""
        self._wall_start += seconds

    def advance(self, seconds: float) -> None:
        self._elapsed += seconds
        while self._sleepers and self._sleepers[0][0] <= self._elapsed:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
