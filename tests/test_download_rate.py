"""The total rate limit shared by every connection, on virtual time: the
bytes taken over a few seconds stay within 5 % of the rate, whatever the
number of connections, and a change of rate applies at once."""

from __future__ import annotations

import asyncio
import heapq
import itertools

from tui.download.rate import RateLimiter

CHUNK = 65536


class VirtualTime:
    """A clock and a sleep: time moves to the next sleeper's wake-up once
    every task is waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self.order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self.sleepers, (self.now + seconds, next(self.order), future))
        await future

    async def run_until(self, moment: float) -> None:
        while True:
            for _ in range(10):  # every task runs until it sleeps
                await asyncio.sleep(0)
            if not self.sleepers or self.sleepers[0][0] > moment:
                self.now = moment
                return
            wake, _, future = heapq.heappop(self.sleepers)
            self.now = max(self.now, wake)
            if not future.done():  # else its task was cancelled
                future.set_result(None)


async def taken(limiter: RateLimiter, time: VirtualTime, connections: int, seconds: float) -> int:
    """Bytes `connections` readers take in `seconds` of virtual time."""
    total = 0

    async def reader() -> None:
        nonlocal total
        while True:
            await limiter.take(CHUNK)
            total += CHUNK

    tasks = [asyncio.create_task(reader()) for _ in range(connections)]
    start = time.now
    await time.run_until(start + seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return total


async def test_one_connection_keeps_within_five_percent() -> None:
    time = VirtualTime()
    limiter = RateLimiter(1_000_000, clock=time.clock, sleep=time.sleep)
    got = await taken(limiter, time, 1, 4.0)
    assert 0.95 * 4_000_000 <= got <= 1.05 * 4_000_000


async def test_many_connections_share_the_rate() -> None:
    time = VirtualTime()
    limiter = RateLimiter(2_000_000, clock=time.clock, sleep=time.sleep)
    got = await taken(limiter, time, 8, 4.0)
    assert 0.95 * 8_000_000 <= got <= 1.05 * 8_000_000


async def test_a_new_rate_applies_at_once() -> None:
    time = VirtualTime()
    limiter = RateLimiter(100_000, clock=time.clock, sleep=time.sleep)
    await taken(limiter, time, 4, 2.0)
    limiter.rate = 4_000_000
    got = await taken(limiter, time, 4, 3.0)
    assert 0.95 * 12_000_000 <= got <= 1.05 * 12_000_000


async def test_no_rate_takes_without_waiting() -> None:
    time = VirtualTime()
    limiter = RateLimiter(0, clock=time.clock, sleep=time.sleep)
    for _ in range(1000):
        await limiter.take(CHUNK)
    assert time.now == 0.0 and not time.sleepers


async def test_a_limit_lifted_wakes_the_waiting() -> None:
    time = VirtualTime()
    limiter = RateLimiter(1000, clock=time.clock, sleep=time.sleep)
    await limiter.take(CHUNK)  # some 65 seconds of debt
    waiting = asyncio.create_task(limiter.take(CHUNK))
    await time.run_until(0.1)
    limiter.rate = 0
    await time.run_until(0.5)
    assert waiting.done()


async def test_no_connection_starves_while_others_take_the_limit() -> None:
    """Big reads and small ones share the rate by turns: none waits long."""
    time = VirtualTime()
    limiter = RateLimiter(1_000_000, clock=time.clock, sleep=time.sleep)
    last_taken: dict[int, float] = {}
    longest_wait: dict[int, float] = {}

    async def reader(number: int, chunk: int) -> None:
        last_taken[number] = time.now
        while True:
            await limiter.take(chunk)
            longest_wait[number] = max(longest_wait.get(number, 0.0), time.now - last_taken[number])
            last_taken[number] = time.now
            if number:  # the next read takes a moment; the first's is there at once
                await time.sleep(0.01)

    tasks = [
        asyncio.create_task(reader(0, 512 * 1024)),
        asyncio.create_task(reader(1, 64 * 1024)),
        asyncio.create_task(reader(2, 64 * 1024)),
    ]
    await time.run_until(30.0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    # A turn of all three is 640 KiB at 1 MB/s, about 0.66 s; two turns at most.
    assert sorted(longest_wait) == [0, 1, 2], longest_wait
    assert max(longest_wait.values()) <= 1.5, longest_wait
