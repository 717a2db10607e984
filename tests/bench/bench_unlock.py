"""Time to unlock 1,000 links against the emulator with 50 ms latency, against the ideal.

Run: python tests/bench/bench_unlock.py [--links N] [--latency-ms MS] [--concurrency 1 4 8]
     [--in-process]

The ideal is links x latency / concurrency. The emulator runs in its own process
by default, like the real service (in the same process its threads compete with
the engine for the GIL); `raw` is a bare loop of client calls at the same
concurrency, the floor set by HTTP and the emulator, so `ratio / raw` is the
engine's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tui.api import ApiClient, Credentials, HosterMatcher
from tui.emulator import Emulator
from tui.settings import UnlockSettings
from tui.unlock import History, ItemState, UnlockEngine

LOGIN = Credentials("111111111", "1111")


def serve(latency_ms: int, conn: Connection) -> None:
    """The emulator process: answers 'peak' with the most unlocks in flight."""
    with Emulator() as emulator:
        emulator.faults.latency_ms = latency_ms
        conn.send(emulator.url)
        while True:
            # 1,000 unlocks would use up the demo account's fair use: refill it.
            emulator.account(LOGIN.login).fairuse_left = 1.0
            if conn.poll(0.2):
                if conn.recv() != "peak":
                    return
                conn.send(emulator.stats.max_concurrent_unlocks)


def links(tag: str, count: int) -> list[str]:
    return [f"https://uploaded.net/file/{tag}{n:05d}/bench.zip" for n in range(count)]


async def engine_run(url: str, urls: list[str], concurrency: int, db: Path) -> float:
    client = ApiClient(url, LOGIN)
    matcher = HosterMatcher((await client.hoster_list()).hosters)
    with History(db) as history:
        settings = UnlockSettings(concurrency=concurrency)
        engine = UnlockEngine(client, history, settings, matcher=matcher)
        await engine.start()
        started = time.perf_counter()
        items = engine.add("\n".join(urls))
        await engine.wait_idle()
        elapsed = time.perf_counter() - started
        await engine.stop()
    await client.aclose()
    done = sum(engine.items[item.id].state == ItemState.DONE for item in items)
    if done != len(urls):
        raise SystemExit(f"only {done} of {len(urls)} links were done")
    return elapsed


async def raw_run(url: str, urls: list[str], concurrency: int) -> float:
    client = ApiClient(url, LOGIN)
    todo = list(urls)

    async def worker() -> None:
        while todo:
            await client.direct_download_link(todo.pop())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await client.aclose()
    return elapsed


@contextmanager
def emulator_at(latency_ms: int, in_process: bool) -> Iterator[tuple[str, Callable[[], int]]]:
    """A fresh emulator (its URL, and a function giving the peak of unlocks in flight).

    Fresh for every run, because the emulator's bookkeeping of recent unlocks
    grows with each one and would slow the later runs down.
    """
    if in_process:
        with Emulator() as emulator:
            emulator.faults.latency_ms = latency_ms
            emulator.account(LOGIN.login).fairuse_left = 1.0
            yield emulator.url, lambda: emulator.stats.max_concurrent_unlocks
        return
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.Process(target=serve, args=(latency_ms, theirs), daemon=True)
    process.start()

    def peak() -> int:
        ours.send("peak")
        return ours.recv()

    try:
        yield ours.recv(), peak
    finally:
        ours.send("stop")
        process.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--in-process", action="store_true", help="run the emulator in a thread")
    args = parser.parse_args()
    print(f"{'concurrency':>11} {'seconds':>8} {'ideal':>7} {'ratio':>6} {'raw':>6}  max in flight")
    with tempfile.TemporaryDirectory() as tmp:
        for concurrency in args.concurrency:
            ideal = args.links * args.latency_ms / 1000 / concurrency
            urls = links(f"c{concurrency:02d}", args.links)
            with emulator_at(args.latency_ms, args.in_process) as (url, _):
                raw = asyncio.run(raw_run(url, urls, concurrency))
            db = Path(tmp) / f"history-{concurrency}.sqlite3"
            with emulator_at(args.latency_ms, args.in_process) as (url, peak):
                elapsed = asyncio.run(engine_run(url, urls, concurrency, db))
                most = peak()
            print(
                f"{concurrency:>11} {elapsed:>8.2f} {ideal:>7.2f} {elapsed / ideal:>6.3f}"
                f" {raw / ideal:>6.3f}  {most}"
            )


if __name__ == "__main__":
    main()
