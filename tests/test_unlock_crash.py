"""Crash safety: a process unlocking a batch is SIGKILLed mid-way; a new engine on the
same history finishes the batch, and every link ends exactly once, none lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

from tui.api import ApiClient, Credentials, HosterMatcher
from tui.emulator import Emulator
from tui.settings import UnlockSettings
from tui.unlock import History, ItemState, UnlockEngine

REPO = Path(__file__).resolve().parents[1]
PREMIUM = Credentials("111111111", "1111")
WORKER = """
import asyncio, sys
from pathlib import Path
from tui.api import ApiClient, Credentials, HosterMatcher
from tui.settings import UnlockSettings
from tui.unlock import History, UnlockEngine

async def main(url, db, links):
    client = ApiClient(url, Credentials("111111111", "1111"))
    matcher = HosterMatcher((await client.hoster_list()).hosters)
    engine = UnlockEngine(
        client, History(Path(db)), UnlockSettings(concurrency=2), matcher=matcher
    )
    await engine.start()
    engine.add(links)
    print("added", flush=True)
    await engine.wait_idle()
    print("finished", flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


def wait_until_mid_batch(db: Path) -> None:
    """Until some links are done and others in flight (each call lasts 200 ms)."""
    deadline = time.monotonic() + 20
    with closing(sqlite3.connect(db)) as watcher:
        while time.monotonic() < deadline:
            counts = dict(watcher.execute("SELECT state, count(*) FROM items GROUP BY state"))
            if counts.get("done", 0) >= 3 and counts.get("unlocking", 0) >= 1:
                return
            time.sleep(0.01)
    raise AssertionError("the batch never got half-way")


def batch() -> list[str]:
    links = [f"https://uploaded.net/file/crash{n:03d}/part{n}.rar" for n in range(14)]
    links[5] = "https://uploaded.net/file/crash005/missing/part5.rar"
    return links


async def test_kill_9_mid_batch_loses_nothing_and_unlocks_nothing_twice(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    links = batch()
    with Emulator() as emulator:
        emulator.faults.latency_ms = 200
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, emulator.url, str(db), "\n".join(links)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert worker.stdout is not None and worker.stdout.readline() == "added\n"
            wait_until_mid_batch(db)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            worker.stdout.close()
        assert worker.returncode == -signal.SIGKILL

        with History(db) as history:
            at_kill = {item.link: item.state for item in history.recent(100)}
        assert sorted(at_kill) == sorted(links)  # every link was stored before any call
        ended = {ItemState.DONE, ItemState.FAILED}
        ended_before = {link for link, state in at_kill.items() if state in ended}
        assert ended_before and len(ended_before) < len(links)
        assert ItemState.UNLOCKING in at_kill.values()

        # The emulator still answers the killed run's calls in flight (and counts
        # their links when it does): the count starts once they are done.
        deadline = time.monotonic() + 10
        while emulator.stats.concurrent_unlocks and time.monotonic() < deadline:
            time.sleep(0.01)
        emulator.reset_stats()
        emulator.faults.latency_ms = 0
        client = ApiClient(emulator.url, PREMIUM)
        matcher = HosterMatcher((await client.hoster_list()).hosters)
        with History(db) as history:
            engine = UnlockEngine(client, history, UnlockSettings(concurrency=2), matcher=matcher)
            await engine.start()
            await engine.wait_idle()
            await engine.stop()
            final = history.recent(100)
        await client.aclose()
        requested = Counter(emulator.stats.requested_links)

    assert Counter(item.link for item in final) == Counter(links)  # none lost, none added
    states = {item.link: item.state for item in final}
    assert states.pop(links[5]) == ItemState.FAILED
    assert set(states.values()) == {ItemState.DONE}
    assert not ended_before & set(requested)  # nothing ended before the kill was sent again
    assert set(requested) | ended_before == set(links)
    assert max(requested.values()) == 1
