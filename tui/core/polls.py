"""A refresh that re-arms itself once it has ended, so polls never overlap and
back off naturally while the service is away. Plain asyncio: no Textual."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tui.unlock.clock import Clock

UNEXPECTED_FAILURE_DELAY = 60.0
"""After a refresh raised something unexpected: when to try again."""
FIRST_BACKOFF = 15.0


class Poll:
    """Runs `body` (which returns the seconds until the next run) now and then.
    A body that raises is reported to `on_error` and runs again a minute later:
    one bad answer never ends the dashboard's refreshes."""

    def __init__(
        self,
        name: str,
        body: Callable[[], Awaitable[float]],
        clock: Clock,
        on_error: Callable[[str, Exception], None],
    ) -> None:
        self.name = name
        self._body = body
        self._clock = clock
        self._on_error = on_error
        self.failures = 0
        self.next_at: float | None = None
        """When the next run starts, on the clock's monotonic time; None while one runs
        or none is planned."""
        self.armed = False
        """Whether a next run is planned: true from the end of a run until the next."""
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def now(self) -> None:
        """Run at once, ending a run under way (its result is not wanted any more)."""
        self._restart(0.0)

    def within(self, seconds: float) -> None:
        """Make the next run happen no later than `seconds` from now."""
        if self.next_at is not None and self.next_at - self._clock.monotonic() > seconds:
            self._restart(seconds)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.next_at = None
        self.armed = False

    def close(self) -> None:
        """Stop for good: nothing starts it again."""
        self._closed = True
        self.stop()

    def _restart(self, delay: float) -> None:
        if self._closed:
            return
        self.stop()
        self._task = asyncio.create_task(self._loop(delay), name=f"{self.name}-poll")

    async def _loop(self, delay: float) -> None:
        while True:
            if delay > 0:
                self.next_at = self._clock.monotonic() + delay
                self.armed = True
                await asyncio.sleep(delay)
            self.next_at, self.armed = None, False
            try:
                delay = await self._body()
            except Exception as error:  # CancelledError is no Exception: it ends the loop
                self._on_error(self.name, error)
                delay = UNEXPECTED_FAILURE_DELAY

    def succeeded(self, interval: float) -> float:
        self.failures = 0
        return interval

    def backoff(self, ceiling: float) -> float:
        """15 s, 30 s, 60 s… up to `ceiling`."""
        self.failures += 1
        return min(FIRST_BACKOFF * 2 ** (self.failures - 1), ceiling)
