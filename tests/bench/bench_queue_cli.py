"""`linkdeck unlock -` reading 100,000 links from standard input: the rate it stores them.

Run: python tests/bench/bench_queue_cli.py [--tiny]

The command runs against the emulator (in this process, on loopback) and
unlocks as it goes; the history's row count is read every 20 ms from here.
"Steady" means the last tenth of the links is stored at no less than half the
rate of the first: no cost grows with the queue's length (before, nothing was
sent until all of them were stored). The rates of the other tenths are shown:
a pause of a second (the history's checkpoint, a collection) dips one of them.
The command is stopped once every link is stored.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pty_harness import bench_env  # noqa: E402

from tui.emulator import Emulator  # noqa: E402

LOGIN, PIN = "111111111", "1111"


def stored(history: Path) -> int:
    try:
        with sqlite3.connect(f"file:{history}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(*) FROM items").fetchone()[0]
    except sqlite3.Error:
        return 0  # not created yet


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="5,000 links, to check it runs")
    args = parser.parse_args()
    count = 5_000 if args.tiny else 100_000
    emulator = Emulator()
    emulator.start()
    with tempfile.TemporaryDirectory(prefix="linkdeck-bench-") as tmp:
        root = Path(tmp)
        env = bench_env(root, {"LINKDECK_PASSWORD": PIN})
        config = root / "config.toml"
        config.write_text(f'[api]\nurl = "{emulator.url}"\nlogin = "{LOGIN}"\n')
        os.chmod(config, 0o600)
        history = root / "data" / "linkdeck" / "history.sqlite3"
        links = "\n".join(f"https://uploaded.net/file/c{n:09d}/x.rar" for n in range(count))
        process = subprocess.Popen(
            [sys.executable, "-m", "tui", "--config", str(config), "unlock", "-"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert process.stdin is not None
        process.stdin.write(links.encode())
        process.stdin.close()
        began = time.perf_counter()
        samples: list[tuple[float, int]] = []
        try:
            while time.perf_counter() - began < 600:
                samples.append((time.perf_counter() - began, stored(history)))
                if samples[-1][1] >= count or process.poll() is not None:
                    break
                time.sleep(0.02)
        finally:
            process.kill()
            process.wait()
            emulator.stop()
    seconds, done = samples[-1]
    # The time each tenth took, from the samples that cross its bounds.
    tenths = []
    for tenth in range(10):
        low, high = count * tenth // 10, count * (tenth + 1) // 10
        start = next((t for t, n in samples if n >= low), None)
        end = next((t for t, n in samples if n >= high), None)
        if start is not None and end is not None and end > start:
            tenths.append((high - low) / (end - start))
    print("| figure | value | budget | pass/fail |")
    if len(tenths) < 10:
        print(f"| {count:,} links from stdin | {done:,} stored in {seconds:.0f} s | - | FAIL |")
        return 1
    first, last = tenths[0], tenths[-1]
    steady = last >= first / 2
    print(
        f"| `linkdeck unlock -` storing {count:,} links from stdin"
        f" | all in {seconds:.1f} s; {first:,.0f} links/s in the first tenth, {last:,.0f} in"
        f" the last ({min(tenths):,.0f} to {max(tenths):,.0f})"
        f" | last tenth >= half the first | {'pass' if steady else 'FAIL'} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
