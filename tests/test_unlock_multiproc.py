"""Several processes on one history: `linkdeck unlock` runs, engines and dashboards
at once, against the emulator behind a counting proxy of the test's own. Every
link is requested exactly once (a link in flight when its process is killed
may be sent again), the history has one row per link, and every count shown is
right."""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import IO

import pytest
from commandline import isolated_env
from countingproxy import CountingProxy
from deck import PREMIUM_LOGIN, PREMIUM_PIN, wait_for
from ptyrun import PtyRun

from tui.api import ApiClient, Credentials, HosterMatcher
from tui.core import Profile
from tui.emulator import Emulator
from tui.settings import Settings, UnlockSettings
from tui.unlock import History, ItemState, UnlockEngine
from tui.unlock.history import LEASE_SECONDS

REPO = Path(__file__).resolve().parents[1]
STATE_WORDS = "|".join(state.value for state in ItemState)
TIMEOUT = 90.0
"""Unlocks wait at the proxy's gate until every process has queued its links: far
longer than the default timeout, on a busy machine."""
NEGATIVE_COUNT = re.compile(rf"-\d+ ({STATE_WORDS})".encode())


def links(count: int, tag: str) -> list[str]:
    """`count` links the emulator's uploaded.net serves (an id of 8 characters)."""
    return [f"https://uploaded.net/file/{tag:x<5}{n:03d}/part{n}.rar" for n in range(count)]


class Setup:
    """The environment, config and history path every process of a test shares."""

    def __init__(self, tmp_path: Path, url: str) -> None:
        self.url = url
        self.env = isolated_env(tmp_path, PYTHONPATH=str(REPO), LINKDECK_PASSWORD=PREMIUM_PIN)
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            f'[api]\nurl = "{url}"\nlogin = "{PREMIUM_LOGIN}"\ntimeout = {TIMEOUT}\n'
            "[unlock]\nconcurrency = 2\n"
        )
        self.config.chmod(0o600)
        self.data_dir = Path(self.env["XDG_DATA_HOME"]) / "linkdeck"
        self.db = self.data_dir / "history.sqlite3"

    def rows(self) -> list[tuple[str, str, str | None]]:
        """(link, state, owner) of every row, or [] before the history has them."""
        if not self.db.exists():
            return []
        with closing(sqlite3.connect(self.db)) as db:
            columns = {row[1] for row in db.execute("PRAGMA table_info(items)")}
            if not columns:
                return []  # created, its schema not yet
            owner = "owner" if "owner" in columns else "NULL"
            return db.execute(f"SELECT link, state, {owner} FROM items ORDER BY id").fetchall()

    def wait_rows(self, condition: Callable[[list[tuple[str, str, str | None]]], bool]) -> None:
        deadline = time.monotonic() + 30
        while not condition(self.rows()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the history never got there: {Counter(self.rows())}")
            time.sleep(0.02)


class CliRun:
    """`linkdeck unlock --json` in a subprocess, its output read as it comes."""

    def __init__(self, setup: Setup, targets: list[str]) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tui",
                "unlock",
                "--config",
                str(setup.config),
                "--json",
                *targets,
            ],
            env=setup.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.out, self.err = bytearray(), bytearray()
        self._readers = [
            threading.Thread(target=self._drain, args=(pipe, buffer), daemon=True)
            for pipe, buffer in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _drain(pipe: IO[bytes], buffer: bytearray) -> None:
        for chunk in iter(lambda: pipe.read1(65536), b""):  # type: ignore[attr-defined]
            buffer.extend(chunk)

    def wait_for_stderr(self, text: bytes, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.err:
            ended = self.proc.poll() is not None and text not in self.err
            if ended or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} on stderr: {bytes(self.err)!r}")
            time.sleep(0.02)

    def finish(self, timeout: float = 45) -> tuple[int, list[dict[str, object]]]:
        import json

        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return code, [json.loads(line) for line in bytes(self.out).splitlines()]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        for reader in self._readers:
            reader.join(5)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        emu.faults.latency_ms = 100
        yield emu


@pytest.fixture
def proxy(emulator: Emulator) -> Iterator[CountingProxy]:
    with CountingProxy(emulator.url) as counting:
        yield counting


async def engine_on(setup: Setup) -> UnlockEngine:
    client = ApiClient(setup.url, Credentials(PREMIUM_LOGIN, PREMIUM_PIN))
    matcher = HosterMatcher((await client.hoster_list()).hosters)
    engine = UnlockEngine(client, History(setup.db), UnlockSettings(concurrency=2), matcher=matcher)
    await engine.start()
    return engine


async def close(engine: UnlockEngine) -> None:
    await engine.stop()
    await engine.client.aclose()
    engine.history.close()


def assert_one_done_row_per_link(setup: Setup, wanted: list[str]) -> None:
    rows = setup.rows()
    assert Counter(link for link, _, _ in rows) == Counter(wanted)  # one row per link
    assert {state for _, state, _ in rows} == {"done"}
    assert {owner for _, _, owner in rows} == {None}  # every claim released


def assert_done(code: int, records: list[dict[str, object]], wanted: list[str]) -> None:
    assert code == 0, records
    assert sorted(r["link"] for r in records) == sorted(wanted)  # each printed once
    assert {r["state"] for r in records} == {"done"}


async def test_two_cli_runs_and_an_engine_request_each_link_once(
    tmp_path: Path, proxy: CountingProxy
) -> None:
    setup = Setup(tmp_path, proxy.url)
    every = links(40, "both")
    proxy.gate.clear()  # nothing ends before all three have queued their links
    first, second = CliRun(setup, every[:30]), CliRun(setup, every[10:])
    try:
        # Both runs have queued theirs once every link is in the history.
        await asyncio.to_thread(setup.wait_rows, lambda rows: {r[0] for r in rows} == set(every))
        engine = await engine_on(setup)
        try:
            assert engine.add(" ".join(every)) == []  # all queued already, by the others
            proxy.gate.set()
            results = [await asyncio.to_thread(run.finish) for run in (first, second)]
            await asyncio.wait_for(engine.wait_idle(), 30)
            assert {item.state for item in engine.items.values()} == {ItemState.DONE}
            assert len(engine.items) == len(every)
        finally:
            await close(engine)
    finally:
        proxy.gate.set()
        first.kill()
        second.kill()
    assert_done(*results[0], every[:30])
    assert_done(*results[1], every[10:])
    assert proxy.requested == Counter(every)  # each link requested exactly once
    assert_one_done_row_per_link(setup, every)


async def test_a_killed_run_is_taken_over_and_only_its_links_in_flight_are_sent_again(
    tmp_path: Path, emulator: Emulator, proxy: CountingProxy
) -> None:
    setup = Setup(tmp_path, proxy.url)
    every = links(30, "kill")
    emulator.faults.latency_ms = 200
    doomed = CliRun(setup, every)
    try:

        def mid_batch(rows: list[tuple[str, str, str | None]]) -> bool:
            states = Counter(state for _, state, _ in rows)
            return states["done"] >= 3 and states["unlocking"] >= 1

        await asyncio.to_thread(setup.wait_rows, mid_batch)
    finally:
        doomed.kill()
    at_kill = {link: state for link, state, _ in setup.rows()}
    in_flight = {link for link, state in at_kill.items() if state == "unlocking"}
    assert in_flight
    # The next run asks for the links left unfinished (one done would be answered
    # from the history: a row of its own) and for new ones.
    left = [link for link in every if at_kill[link] != "done"]
    fresh = links(5, "more")
    emulator.faults.latency_ms = 50
    proxy.gate.clear()  # until the next run has queued its links
    later = CliRun(setup, left + fresh)
    engine = await engine_on(setup)  # takes back what the killed run held, as `later` does
    try:
        await asyncio.to_thread(setup.wait_rows, lambda rows: set(fresh) <= {r[0] for r in rows})
        proxy.gate.set()
        code, records = await asyncio.to_thread(later.finish)
        await asyncio.wait_for(engine.wait_idle(), 30)
    finally:
        later.kill()
        await close(engine)
    assert_done(code, records, left + fresh)
    assert_one_done_row_per_link(setup, every + fresh)
    assert set(proxy.requested) == set(every + fresh)
    sent_again = {link for link, count in proxy.requested.items() if count > 1}
    assert sent_again <= in_flight, sent_again
    assert max(proxy.requested.values()) <= 2


def last_line_with(output: bytes, marker: bytes) -> str:
    """The text last written onto the screen line that shows `marker` (Textual
    writes a changed line whole, from a cursor move), escape sequences removed."""
    moves = list(re.finditer(rb"\x1b\[\d+;\d+H", output))
    ends = [move.start() for move in moves[1:]] + [len(output)]
    written = [output[move.end() : end] for move, end in zip(moves, ends, strict=True)]
    (*_, last) = [text for text in written if marker in text]
    return " ".join(re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", last).decode().split())


def queue_line(app: object) -> str:
    from textual.widgets import Static

    content = app.query_one("#queue-line", Static).content  # type: ignore[attr-defined]
    return " ".join(str(content).split())


async def test_two_dashboards_and_two_cli_runs_on_one_history(
    tmp_path: Path, proxy: CountingProxy
) -> None:
    from tui.app import LinkdeckApp

    setup = Setup(tmp_path, proxy.url)
    every = links(100, "deck")
    # Links 20-49 were left unfinished by a session that ended without a clean stop.
    crashed = (
        "import sys; from pathlib import Path; from tui.unlock import History, Item, ItemState;"
        "links = sys.argv[2:];"
        "History(Path(sys.argv[1])).insert(Item(0, link, 'uploaded.net',"
        " ItemState.UNLOCKING if n % 3 == 0 else ItemState.PENDING, 1.0, 1.0)"
        " for n, link in enumerate(links))"
    )
    setup.data_dir.mkdir(parents=True)
    subprocess.run(
        [sys.executable, "-c", crashed, str(setup.db), *every[20:50]],
        env=setup.env,
        check=True,
        timeout=30,
    )
    proxy.gate.clear()  # nothing ends before every process has queued its links
    settings = Settings()
    settings = replace(
        settings,
        api=replace(
            settings.api, url=proxy.url, login=PREMIUM_LOGIN, password=PREMIUM_PIN, timeout=TIMEOUT
        ),
        unlock=replace(settings.unlock, concurrency=2),
    )
    profile = Profile(settings, tmp_path / "none.toml", setup.data_dir, tmp_path / "cache")
    runs: list[CliRun] = []
    with PtyRun(["--config", str(setup.config)], setup.env, size=(120, 40)) as deck:
        app = LinkdeckApp(profile)
        async with app.run_test(size=(120, 40)) as pilot:
            unlock = app.dashboard.unlock
            counts_seen: list[dict[ItemState, int]] = []

            def connected() -> bool:
                counts_seen.append(dict(unlock._counts))
                return (
                    app.session.engine is not None and app.query_one("#hoster-table").row_count > 0
                )

            await wait_for(pilot, connected, 30)
            await asyncio.to_thread(deck.wait_for, b"1fichier", 30)  # connected too

            text = " ".join(every[:80])
            await asyncio.to_thread(deck.send, "u")
            await asyncio.to_thread(deck.send, f"\x1b[200~{text}\x1b[201~\r")
            await asyncio.to_thread(deck.wait_for, b"Queued ", 30)
            await pilot.press("u")
            app.query_one("#links").value = text  # type: ignore[attr-defined]
            await pilot.press("enter")
            runs = [CliRun(setup, every[60:]), CliRun(setup, every[70:])]
            try:
                for run in runs:  # 60-79 are in the dashboards' queues
                    await asyncio.to_thread(run.wait_for_stderr, b"already queued")
                await asyncio.to_thread(deck.wait_for, b"other process", 30)
                proxy.gate.set()
                results = [await asyncio.to_thread(run.finish) for run in runs]

                def all_done() -> bool:
                    counts_seen.append(dict(unlock._counts))
                    return queue_line(app) == "▶ running 100 done"

                await wait_for(pilot, all_done, 30)
                assert unlock.table.row_count == 100  # the other processes' rows too
            finally:
                proxy.gate.set()
                for run in runs:
                    run.kill()
        running = "▶ running".encode()
        await asyncio.to_thread(deck.wait_for, b"100 done", 30)
        assert last_line_with(bytes(deck.output), running) == "▶ running 100 done"
        await asyncio.to_thread(deck.back_to_dashboard)  # out of the links input
        assert await asyncio.to_thread(deck.quit) == 0
    assert_done(*results[0], every[60:])
    assert_done(*results[1], every[70:])
    assert proxy.requested == Counter(every)  # each link requested exactly once
    assert_one_done_row_per_link(setup, every)
    assert all(count >= 0 for counts in counts_seen for count in counts.values())
    assert not NEGATIVE_COUNT.search(bytes(deck.output))


async def test_a_link_in_a_paused_queue_elsewhere_is_reported_not_awaited(
    tmp_path: Path, proxy: CountingProxy
) -> None:
    """`linkdeck unlock` waits for links another process unlocks, but one whose
    queue is paused would keep it waiting for ever: it reports those instead."""
    setup = Setup(tmp_path, proxy.url)
    held, other = links(2, "paused")
    engine = await engine_on(setup)
    run = None
    try:
        engine.pause()
        engine.add(held)
        run = CliRun(setup, [held, other])
        code, records = await asyncio.to_thread(run.finish)
        assert code == 1
        states = {record["link"]: record["state"] for record in records}
        assert states == {held: "pending", other: "done"}
        assert b"paused" in run.err
        assert proxy.requested == Counter([other])
        engine.resume()
        await asyncio.wait_for(engine.wait_idle(), 30)
    finally:
        if run is not None:
            run.kill()
        await close(engine)
    assert proxy.requested == Counter([held, other])
    assert_one_done_row_per_link(setup, [held, other])


async def test_what_others_did_since_the_log_was_read_is_shown(
    tmp_path: Path, proxy: CountingProxy
) -> None:
    """The dashboard reads its log, then starts its engine later (after the first
    frame, the password command...): an item another process ended meanwhile still
    reaches the log, though nothing changes in the history after the engine starts."""
    from tui.unlock import Item

    setup = Setup(tmp_path, proxy.url)
    setup.data_dir.mkdir(parents=True)
    history = History(setup.db)
    since = history.change_cursor()  # the log is read here
    with History(setup.db) as other:
        now = time.time()
        (done,) = other.insert([Item(0, links(1, "since")[0], None, ItemState.DONE, now, now)])
    client = ApiClient(setup.url, Credentials(PREMIUM_LOGIN, PREMIUM_PIN))
    engine = UnlockEngine(client, history, UnlockSettings())
    events = asyncio.Queue()
    engine.subscribe(events.put_nowait)
    await engine.start(since=since)
    try:
        event = await asyncio.wait_for(events.get(), 10)
        assert event == done
    finally:
        await close(engine)


async def test_an_engine_that_lost_its_claim_stops_its_unlock_and_follows(
    tmp_path: Path, proxy: CountingProxy
) -> None:
    """A process starved past its lease (suspended, say) while a request was in
    flight: another one took the item back. The first stops that unlock, never
    writes over the other's state, and shows the item as the other has it."""
    setup = Setup(tmp_path, proxy.url)
    proxy.gate.clear()
    engine = await engine_on(setup)
    later = History(setup.db, clock=lambda: time.time() + LEASE_SECONDS + 1)
    try:
        (item,) = engine.add(links(1, "lease")[0])
        await wait_until(lambda: engine.items[item.id].state == ItemState.UNLOCKING)
        (taken,) = later.take_back([item.id])
        assert (taken.owner, taken.state) == (later.owner, ItemState.PENDING)
        await wait_until(lambda: engine.items[item.id] == taken)
        proxy.gate.set()  # the first one's request was dropped: its answer is not used
        done = later.update(replace(taken, state=ItemState.DONE, status=200, message="OK"))
        await asyncio.wait_for(engine.wait_idle(), 10)
        assert engine.items[item.id] == done
        assert later.get(item.id) == done
    finally:
        proxy.gate.set()
        later.close()
        await close(engine)


async def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)
