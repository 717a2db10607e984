"""What the dashboard costs the terminal, the CPU and the memory, measured on
the real program in a 120x40 pseudo-terminal against the emulator.

Run: python tests/bench/bench_terminal.py [--tiny] [--only NAME ...]

Every figure prints as a row `figure | value | budget | pass/fail`. The
emulator runs in this process (on loopback), so its counters tell how many
refreshes the dashboard made; the dashboard is `python -m tui --config FILE`
from this checkout, with its XDG directories in a temporary folder so the
hoster cache persists between its starts, as it would for a user. Every
program started here loads cached bytecode, as an installed one does.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pty_harness import ROWS, PtyProcess, Timeout, bench_env  # noqa: E402

from tui.emulator import Emulator  # noqa: E402
from tui.emulator.scenario import Hoster as ScenarioHoster  # noqa: E402
from tui.emulator.scenario import default_scenario  # noqa: E402

LOGIN, PIN = "111111111", "1111"
ACCOUNT_TEXT = LOGIN.encode()
HOSTER_TEXT = b"1fichier.com"
HELP_TEXT = b"esc to close"
MINIMAL_APP = Path(__file__).resolve().parent / "minimal_app.py"
KB, MB = 1024, 1024 * 1024
START_BUDGET = 1.3
"""The dashboard's first frame comes within this many times the minimal app's."""


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    budget: str
    ok: bool

    def line(self) -> str:
        return f"{self.figure} | {self.value} | {self.budget} | {'pass' if self.ok else 'FAIL'}"


def report(row: Row) -> Row:
    print(row.line(), flush=True)
    return row


@dataclass(frozen=True)
class Sizes:
    starts: int = 5
    idle_bytes_seconds: float = 10.0
    idle_cpu_seconds: float = 30.0
    refreshes: int = 6
    refresh_interval: float = 2.0
    mouse_moves: int = 12
    links: int = 1000
    key_presses: int = 5
    paste_links: int = 10_000
    hostile_hosters: int = 50_000
    history_items: int = 100_000
    warmup_cycles: int = 500
    cycles: int = 10_000


TINY = Sizes(
    starts=1,
    idle_bytes_seconds=1.0,
    idle_cpu_seconds=1.0,
    refreshes=2,
    refresh_interval=1.0,
    mouse_moves=2,
    links=40,
    key_presses=1,
    paste_links=200,
    hostile_hosters=500,
    history_items=2_000,
    warmup_cycles=20,
    cycles=100,
)


class Bench:
    """The emulator, a scratch folder, and dashboards started against them."""

    def __init__(self, tmp: Path, sizes: Sizes) -> None:
        self.tmp, self.sizes = tmp, sizes
        self.emulator = Emulator()
        self.emulator.start()
        self._stop = threading.Event()
        # A thousand unlocks would use up the demo account's fair use: keep it full.
        self._refill = threading.Thread(target=self._keep_fairuse, daemon=True)
        self._refill.start()
        self._count = 0
        self.cache_dir: Path | None = None
        self.pycache = tmp / "pycache"

    def close(self) -> None:
        self._stop.set()
        self.emulator.stop()

    def _keep_fairuse(self) -> None:
        while not self._stop.wait(0.5):
            self.emulator.account(LOGIN).fairuse_left = 0.77

    @property
    def account_calls(self) -> int:
        return self.emulator.stats.calls["accountstatus"]

    def profile(
        self,
        config: str = "",
        history: Callable[[Path], None] | None = None,
        url: str | None = None,
    ) -> tuple:
        """A fresh profile (XDG folders, config file) holding the warm hoster cache."""
        self._count += 1
        root = self.tmp / f"profile-{self._count}"
        env = bench_env(root, {"LINKDECK_PASSWORD": PIN})
        # Cached bytecode, as an installed program has (pip compiles it): run
        # from a checkout with PYTHONDONTWRITEBYTECODE, the dashboard would
        # compile its modules at every start, the minimal app its 28 lines.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        if self.cache_dir is not None:
            shutil.copytree(self.cache_dir, root / "cache" / "linkdeck")
        if history is not None:
            data = root / "data" / "linkdeck"
            data.mkdir(parents=True, exist_ok=True, mode=0o700)
            history(data / "history.sqlite3")
        path = root / "config.toml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fp:
            fp.write(f'[api]\nurl = "{url or self.emulator.url}"\nlogin = "{LOGIN}"\n{config}\n')
        return root, env, path

    @contextmanager
    def dashboard(
        self,
        config: str = "",
        history: Callable[[Path], None] | None = None,
        url: str | None = None,
    ) -> Iterator[PtyProcess]:
        _, env, path = self.profile(config, history, url)
        argv = [sys.executable, "-m", "tui", "--config", str(path)]
        with PtyProcess(argv, env=env, cwd=ROOT) as process:
            yield process

    def warm_cache(self) -> None:
        """Start the dashboard once so the hoster list and the account are cached on disk."""
        root, env, path = self.profile()
        argv = [sys.executable, "-m", "tui", "--config", str(path)]
        cache = root / "cache" / "linkdeck"
        with PtyProcess(argv, env=env, cwd=ROOT) as process:
            process.wait_for(ACCOUNT_TEXT, HOSTER_TEXT, timeout=30)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not (
                (cache / "hosters.json").exists() and (cache / "account.json").exists()
            ):
                time.sleep(0.05)
        self.cache_dir = self.tmp / "warm-cache"
        shutil.copytree(cache, self.cache_dir)


def first_frame(bench: Bench) -> float:
    with bench.dashboard() as process:
        return process.wait_for(ACCOUNT_TEXT, HOSTER_TEXT, timeout=30) - process.started_at


def minimal_first_frame(bench: Bench) -> float:
    _, env, _ = bench.profile()
    argv = [sys.executable, str(MINIMAL_APP)]
    with PtyProcess(argv, env=env, cwd=ROOT) as process:
        return process.wait_for(ACCOUNT_TEXT, HOSTER_TEXT, timeout=30) - process.started_at


def bench_start(bench: Bench) -> list[Row]:
    # Each program once before: both start from cached bytecode (warm_cache
    # started the dashboard).
    minimal_first_frame(bench)
    ours, minimal = [], []
    for _ in range(bench.sizes.starts):  # interleaved, so drifts hit both alike
        minimal.append(minimal_first_frame(bench))
        ours.append(first_frame(bench))
    a, b = statistics.median(ours), statistics.median(minimal)
    return [
        report(
            Row(
                "start to first frame with account and cached hosters",
                f"{a:.2f} s = {a / b:.2f}x minimal app ({b:.2f} s), median of {len(ours)}",
                f"<= {START_BUDGET}x",
                a / b <= START_BUDGET,
            )
        )
    ]


def bench_idle(bench: Bench) -> list[Row]:
    """Idle between refreshes at the default intervals: bytes, then CPU."""
    sizes = bench.sizes
    with bench.dashboard() as process:
        process.wait_for(ACCOUNT_TEXT, HOSTER_TEXT, timeout=30)
        mark = process.wait_quiet(1.0)
        cpu = process.cpu_seconds()
        started = time.perf_counter()
        time.sleep(sizes.idle_bytes_seconds)
        written = process.bytes_since(mark)
        rate = written / (time.perf_counter() - started)
        time.sleep(max(sizes.idle_cpu_seconds - sizes.idle_bytes_seconds, 0))
        share = (process.cpu_seconds() - cpu) / (time.perf_counter() - started)
        window = time.perf_counter() - started
    return [
        report(
            Row(
                "bytes written per second while idle",
                f"{rate:.1f} B/s over {sizes.idle_bytes_seconds:g} s",
                "0",
                written == 0,
            )
        ),
        report(
            Row(
                "CPU while idle, default refresh intervals",
                f"{share * 100:.2f} % of one core over {window:.0f} s",
                "<= 0.5 %",
                share <= 0.005,
            )
        ),
    ]


def bench_refresh(bench: Bench) -> list[Row]:
    """Bytes per account refresh whose values did not change (2 s interval)."""
    sizes = bench.sizes
    config = f"[refresh]\naccount_interval = {sizes.refresh_interval}\n"
    with bench.dashboard(config) as process:
        process.wait_for(ACCOUNT_TEXT, HOSTER_TEXT, timeout=30)
        calls = bench.account_calls
        # The first refresh after the start may still settle the layout.
        wait_calls(bench, calls + 1, 10)
        process.wait_quiet(0.3)
        mark, calls = process.mark(), bench.account_calls
        wait_calls(
            bench, calls + sizes.refreshes, 1.5 * sizes.refresh_interval * sizes.refreshes + 5
        )
        time.sleep(0.5)
        done = bench.account_calls - calls
        written = process.bytes_since(mark)
    per = written / max(done, 1)
    return [
        report(
            Row(
                "bytes written by one unchanged account refresh",
                f"{per:.0f} B (mean of {done})",
                "<= 1 KB",
                per <= KB,
            )
        )
    ]


def wait_calls(bench: Bench, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while bench.account_calls < count:
        if time.monotonic() > deadline:
            raise Timeout(f"only {bench.account_calls} of {count} account refreshes")
        time.sleep(0.02)


CURSOR = re.compile(rb"\x1b\[(\d+);(\d+)H")


def screen_rows(output: bytes) -> dict[int, bytes]:
    """Screen row (0-based) to the text written after a cursor move onto it:
    enough to find a header line in a full frame."""
    rows: dict[int, bytes] = {}
    matches = list(CURSOR.finditer(output))
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(output)
        text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", output[match.end() : end])
        row = int(match.group(1)) - 1
        rows[row] = rows.get(row, b"") + text
    return rows


def find_row(output: bytes, *texts: bytes) -> int:
    for row, text in sorted(screen_rows(output).items()):
        if all(t in text for t in texts):
            return row
    raise Timeout(f"no screen row shows {texts!r}")


def history_of(count: int) -> Callable[[Path], None]:
    """Fill a history database with `count` finished unlocks."""

    def fill(path: Path) -> None:
        from tui.unlock.history import History
        from tui.unlock.items import Attempt, Item, ItemState

        now = time.time()
        with History(path) as history:
            batch = []
            for n in range(count):
                at = now - (count - n) * 0.5
                link = f"https://uploaded.net/file/h{n:06d}/archive.part{n % 7}.rar"
                batch.append(
                    Item(
                        id=0,
                        link=link,
                        hoster="uploaded.net",
                        state=ItemState.DONE,
                        created=at,
                        updated=at,
                        attempts=(Attempt(at, 200, "OK"),),
                        status=200,
                        message="OK",
                        location=f"http://127.0.0.1:1/dl/{n:032x}/archive.part{n % 7}.rar",
                        filename=f"archive.part{n % 7}.rar",
                        filesize=1 << 30,
                    )
                )
                if len(batch) == 5000:
                    history.insert(batch)
                    batch = []
            history.insert(batch)

    return fill


def bench_mouse(bench: Bench) -> list[Row]:
    """Bytes per mouse move from one row's cell to the next, on both tables."""
    sizes = bench.sizes
    rows = []
    with bench.dashboard(history=history_of(200)) as process:
        process.wait_for(ACCOUNT_TEXT, HOSTER_TEXT, timeout=30)
        process.wait_quiet(1.0)
        output = process.text_since(0)
        tables = {
            "hoster table": find_row(output, b"TLDs", b"Patterns"),
            "log": find_row(output, b"Direct link"),
        }
        for name, header in tables.items():
            first = header + 1
            last = min(first + sizes.mouse_moves, ROWS - 3)
            process.mouse_move(8, first)
            process.wait_quiet(0.5)
            counts = []
            for y in range(first + 1, last + 1):
                mark = process.mark()
                process.mouse_move(8, y)
                time.sleep(0.05)
                process.wait_quiet(0.3)
                counts.append(process.bytes_since(mark))
            # Along one row, from cell to cell.
            for x in (30, 50, 70):
                mark = process.mark()
                process.mouse_move(x, last)
                time.sleep(0.05)
                process.wait_quiet(0.3)
                counts.append(process.bytes_since(mark))
            mean, most = statistics.mean(counts), max(counts)
            rows.append(
                report(
                    Row(
                        f"bytes written per mouse move, {name}",
                        f"{mean:.0f} B mean, {most} B most ({len(counts)} moves)",
                        "<= 1 KB",
                        most <= KB,
                    )
                )
            )
            process.mouse_move(60, 0)
            process.wait_quiet(0.3)
    return rows


def bench_keys_while_unlocking(bench: Bench) -> list[Row]:
    """A key press handled while 1,000 links update the log (latency 50 ms, concurrency 8)."""
    sizes = bench.sizes
    bench.emulator.faults.latency_ms = 50
    tag = f"k{int(time.time())}"
    links = [f"https://uploaded.net/file/{tag}{n:05d}/bench.zip" for n in range(sizes.links)]
    latencies: dict[str, list[float]] = {"p": [], "?": []}
    try:
        with bench.dashboard("[unlock]\nconcurrency = 8\n") as process:
            process.wait_for(ACCOUNT_TEXT, HOSTER_TEXT, timeout=30)
            process.wait_quiet(0.5)
            unlocked = len(bench.emulator.stats.unlocked_links)
            process.send("u")
            time.sleep(0.2)
            mark = process.mark()
            process.paste("\n".join(links))
            process.send("\r")
            process.wait_for(b"Queued", since=mark, timeout=30)
            time.sleep(0.2)
            process.send("\x1b")  # leave the input for the log, so `?` and `p` are keys
            time.sleep(0.3)
            ideal = len(links) * 0.05 / 8
            for _ in range(sizes.key_presses):
                time.sleep(max(ideal / (sizes.key_presses + 1) - 1, 0.2))
                # p pauses and p resumes the queue: each shows a toast at once.
                for text in (b"Queue paused", b"Queue resumed"):
                    mark = process.mark()
                    sent = process.send("p")
                    latencies["p"].append(process.wait_for(text, since=mark, timeout=10) - sent)
                    time.sleep(0.1)
                # ? opens the help screen (a Markdown document).
                mark = process.mark()
                sent = process.send("?")
                latencies["?"].append(process.wait_for(HELP_TEXT, since=mark, timeout=10) - sent)
                time.sleep(0.2)
                process.send("\x1b")
                time.sleep(0.1)
            deadline = time.monotonic() + ideal * 3 + 10
            while len(bench.emulator.stats.unlocked_links) - unlocked < len(links):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            done = len(bench.emulator.stats.unlocked_links) - unlocked
    finally:
        bench.emulator.faults.latency_ms = 0
    rows = []
    for key, what in (("p", "p shows its toast"), ("?", "? opens the help")):
        most, median = max(latencies[key]), statistics.median(latencies[key])
        rows.append(
            report(
                Row(
                    f"key press handled while {len(links):,} items update the log ({what})",
                    f"{most * 1000:.0f} ms most, {median * 1000:.0f} ms median"
                    f" ({len(latencies[key])} presses; {done} unlocked)",
                    "<= 100 ms",
                    most <= 0.1,
                )
            )
        )
    return rows


def toggle_latencies(
    process: PtyProcess, until: Callable[[], bool], most: int, at_least: int = 0
) -> list[float]:
    """Press `p` to pause the queue until `until()` (after `at_least` presses) or
    `most` presses: the time from
    the key to the queue line's "⏸ paused" (drawn only while paused; a toast may
    be redrawn later, so it cannot tell). Each pause is undone with a second `p`,
    not timed."""
    latencies: list[float] = []
    while len(latencies) < most and (len(latencies) < at_least or not until()):
        mark = process.mark()
        sent = process.send("p")
        latencies.append(process.wait_for("⏸ paused".encode(), since=mark, timeout=10) - sent)
        time.sleep(0.05)
        mark = process.mark()
        process.send("p")
        process.wait_for(b"Queue resumed", since=mark, timeout=10)
        time.sleep(0.1)
    return latencies


def latency_row(figure: str, latencies: list[float], extra: str = "") -> Row:
    if not latencies:
        return report(Row(figure, "no key could be timed", "<= 100 ms", False))
    most, median = max(latencies), statistics.median(latencies)
    return report(
        Row(
            figure,
            f"{most * 1000:.0f} ms most, {median * 1000:.0f} ms median"
            f" ({len(latencies)} presses{extra})",
            "<= 100 ms",
            most <= 0.1,
        )
    )


def bench_large_paste(bench: Bench) -> list[Row]:
    """Keys pressed while a paste of 10,000 links is being queued."""
    count = bench.sizes.paste_links
    tag = f"p{int(time.time())}"
    links = [f"https://uploaded.net/file/{tag}{n:06d}/paste.zip" for n in range(count)]
    # As in bench_keys_while_unlocking: the service answers in 50 ms, eight at a time.
    bench.emulator.faults.latency_ms = 50
    with bench.dashboard("[unlock]\nconcurrency = 8\n") as process:
        process.wait_for(ACCOUNT_TEXT, HOSTER_TEXT, timeout=30)
        process.wait_quiet(0.5)
        # The first toast of a session mounts its container (about 80 ms, paste or
        # not): shown once before, so that the figure is the paste's.
        toggle_latencies(process, lambda: False, most=1)
        process.send("u")
        time.sleep(0.2)
        mark = process.mark()
        process.paste("\n".join(links))
        process.send("\r")
        queued = f"Queued {count} link".encode()
        left = process.mark()
        process.send("\x1b")  # leave the input for the log, so `p` is a key
        # The footer shows Help only outside an input: the log has focus.
        process.wait_for(b"Help", since=left, timeout=30)

        def done() -> bool:
            return queued in process.text_since(mark)

        began = time.perf_counter()
        # One press at least: a small paste (--tiny) may be queued before the log has focus.
        latencies = toggle_latencies(process, done, most=200, at_least=1)
        process.wait_for(queued, since=mark, timeout=60)
        seconds = time.perf_counter() - began
    bench.emulator.faults.latency_ms = 0
    return [
        latency_row(
            f"key press handled while {count:,} pasted links are queued",
            latencies,
            f"; all queued in {seconds:.1f} s",
        )
    ]


def hostile_emulator(count: int) -> Emulator:
    """The emulator with `count` hosters whose patterns would make `re` backtrack for
    hours, name no domain of theirs, or use what RE2 refuses."""
    scenario = default_scenario()
    scenario.hosters = scenario.hosters + [
        ScenarioHoster(
            f"evil{n}.example",
            (f"evil{n}.example",),
            (rf"https?://(x+x+)+y{n}/.*", r"(\w+\s?)+z", r"(?=a)b", r"(a)\1"),
        )
        for n in range(count)
    ]
    return Emulator(scenario)


def bench_hostile_patterns(bench: Bench) -> list[Row]:
    """Keys pressed while a hostile hoster list is compiled, then with it loaded."""
    count = bench.sizes.hostile_hosters
    emulator = hostile_emulator(count)
    emulator.start()
    loaded = b"bad pattern"
    try:
        with bench.dashboard(url=emulator.url) as process:
            process.wait_for(ACCOUNT_TEXT, timeout=30)
            mark = process.mark()
            while_loading = toggle_latencies(
                process, lambda: loaded in process.text_since(mark), most=400
            )
            process.wait_for(loaded, since=mark, timeout=120)
            process.wait_quiet(0.5)
            loaded_latencies = toggle_latencies(process, lambda: False, most=10)
            # A link through every hostile pattern: typed into the box, queued. The
            # queue is paused: the emulator matches with Python's `re`, for hours.
            mark = process.mark()
            process.send("p")
            process.wait_for("⏸ paused".encode(), since=mark, timeout=10)
            queue_latencies = []
            for n in range(bench.sizes.key_presses):
                process.send("u")
                time.sleep(0.2)
                process.paste("https://" + "x" * 40 + f"y{n}/file")
                time.sleep(0.2)
                mark = process.mark()
                sent = process.send("\r")
                # The queue line's new count (a row or a toast like an earlier one
                # may be drawn in parts).
                queue_latencies.append(
                    process.wait_for(f" {n + 1} pending".encode(), since=mark, timeout=10) - sent
                )
                process.send("\x1b")
                time.sleep(0.3)
    finally:
        emulator.stop()
    return [
        latency_row(
            f"key press handled while {count:,} hostile hosters are compiled", while_loading
        ),
        latency_row(f"key press handled with {count:,} hostile hosters loaded", loaded_latencies),
        latency_row(
            f"a link queued with {count:,} hostile hosters loaded (Enter to its count)",
            queue_latencies,
        ),
    ]


def bench_history_memory(bench: Bench) -> list[Row]:
    sizes = bench.sizes
    with bench.dashboard(history=history_of(sizes.history_items)) as process:
        process.wait_for(ACCOUNT_TEXT, HOSTER_TEXT, timeout=60)
        process.wait_quiet(1.0)
        peak = process.memory().peak_mb
    return [
        report(
            Row(
                f"peak memory with {sizes.history_items:,} history items",
                f"{peak:.0f} MB",
                "<= 150 MB",
                peak <= 150,
            )
        )
    ]


def bench_refresh_memory(bench: Bench) -> list[Row]:
    sizes = bench.sizes
    with bench.dashboard("[refresh]\naccount_interval = 0.01\n") as process:
        process.wait_for(ACCOUNT_TEXT, HOSTER_TEXT, timeout=30)
        start = bench.account_calls
        wait_calls(bench, start + sizes.warmup_cycles, sizes.warmup_cycles * 0.2 + 30)
        process.forget()
        before = process.memory().rss_mb
        began, start = time.perf_counter(), bench.account_calls
        target = start + sizes.cycles
        deadline = time.monotonic() + sizes.cycles * 0.2 + 60
        while bench.account_calls < target:
            if time.monotonic() > deadline:
                raise Timeout(f"only {bench.account_calls - start} refreshes")
            time.sleep(0.5)
            process.forget()
        after = process.memory().rss_mb
        seconds = time.perf_counter() - began
        cycles = bench.account_calls - start
    growth = after - before
    return [
        report(
            Row(
                f"memory growth over {cycles:,} refresh cycles",
                f"{growth:+.1f} MB ({before:.0f} -> {after:.0f} MB RSS, {seconds:.0f} s)",
                "<= 10 MB",
                growth <= 10,
            )
        )
    ]


DOWNLOAD_LINKS = [
    "https://uploaded.net/file/dlbn0011/bench-11.bin",  # 192 MB
    "https://uploaded.net/file/dlbn0019/bench-19.bin",  # 166 MB
    "https://uploaded.net/file/dlbn0030/bench-30.bin",  # 193 MB
    "https://uploaded.net/file/dlbn0031/bench-31.bin",  # 181 MB
]
TINY_DOWNLOAD_LINKS = [
    "https://uploaded.net/file/dlsm0019/small-19.zip",
    "https://uploaded.net/file/dlsm0043/small-43.zip",
    "https://uploaded.net/file/dlsm0086/small-86.zip",
    "https://uploaded.net/file/dlsm0162/small-162.zip",
]


def bench_keys_while_downloading(bench: Bench) -> list[Row]:
    """A key press handled while four files download (8 MB/s per connection)."""
    tiny = bench.sizes.key_presses < 5
    links = TINY_DOWNLOAD_LINKS if tiny else DOWNLOAD_LINKS
    folder = bench.tmp / f"downloads-{int(time.time())}"
    bench.emulator.faults.dl_rate = 8_000_000
    config = (
        f'[download]\ndir = "{folder}"\nauto = true\nconcurrent_files = 4\nmin_free_space = 0\n'
    )
    try:
        with bench.dashboard(config) as process:
            process.wait_for(ACCOUNT_TEXT, HOSTER_TEXT, timeout=30)
            process.wait_quiet(0.5)
            process.send("u")
            time.sleep(0.2)
            process.paste("\n".join(links))
            process.send("\r")
            deadline = time.monotonic() + 30
            while bench.emulator.stats.active_downloads < len(links):
                if time.monotonic() > deadline:
                    raise Timeout("the four downloads never ran at once")
                time.sleep(0.05)
            process.send("\x1b")  # leave the input for the log, so `p` is a key
            time.sleep(0.3)
            active = []

            def downloads_ended() -> bool:
                active.append(bench.emulator.stats.active_downloads)
                return active[-1] < len(links)

            latencies = toggle_latencies(
                process, downloads_ended, most=bench.sizes.key_presses * 4, at_least=1
            )
    finally:
        bench.emulator.faults.dl_rate = 0
    while_four = sum(1 for count in active[:-1] if count >= len(links)) or len(latencies)
    return [
        latency_row(
            "key press handled while 4 files download (p shows the pause)",
            latencies,
            f"; {while_four} while 4 downloaded",
        )
    ]


BENCHES: dict[str, Callable[[Bench], list[Row]]] = {
    "start": bench_start,
    "idle": bench_idle,
    "refresh": bench_refresh,
    "mouse": bench_mouse,
    "keys": bench_keys_while_unlocking,
    "downloads": bench_keys_while_downloading,
    "paste": bench_large_paste,
    "hostile": bench_hostile_patterns,
    "history": bench_history_memory,
    "cycles": bench_refresh_memory,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a fast smoke run: small sizes")
    parser.add_argument("--only", nargs="+", choices=list(BENCHES), help="run only these")
    args = parser.parse_args()
    sizes = TINY if args.tiny else Sizes()
    errors = 0
    with tempfile.TemporaryDirectory(prefix="linkdeck-bench-") as tmp:
        bench = Bench(Path(tmp), sizes)
        try:
            bench.warm_cache()
            for name in args.only or BENCHES:
                try:
                    BENCHES[name](bench)
                except Timeout as error:
                    report(Row(name, f"error: {error}"[:200], "-", False))
                    errors += 1
        finally:
            bench.close()
    # A figure over its budget is a result, not an error: only a run that
    # could not measure fails.
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
