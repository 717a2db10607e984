"""Run every benchmark (tests/bench/bench_*.py) and print one table.

Run: python tests/bench/run_all.py [--tiny] [--markdown]

Each benchmark runs in its own process, one after the other (they measure
time and CPU, so never in parallel). A benchmark prints its figures as rows
`figure | value | budget | pass/fail`; bench_unlock.py prints its own table,
read here for concurrency 8. Benchmarks are not tests: the exit status is
non-zero only when one could not run, not when a figure is over its budget.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# Arguments for a full run and for --tiny; a benchmark not listed gets none / --tiny.
ARGS = {
    "bench_unlock.py": (["--concurrency", "8"], ["--concurrency", "8", "--links", "100"]),
}
UNLOCK_BUDGET = 1.15


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import textual

    textual_version = getattr(textual, "__version__", "?")
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) / 1024**2:.1f} GB RAM"
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; Textual {textual_version}"
    )


def rows_of(name: str, output: str, tiny: bool) -> list[tuple[str, str, str, str]]:
    """The rows a benchmark printed."""
    rows = []
    for line in output.splitlines():
        # `figure | value | budget | pass`, or the same as a Markdown table row.
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if len(cells) == 4 and cells[3].lower() in ("pass", "fail"):
            rows.append((cells[0], cells[1], cells[2], cells[3].lower()))
    if name == "bench_unlock.py" and not rows:
        rows = unlock_rows(output, tiny)
    return rows


def unlock_rows(output: str, tiny: bool) -> list[tuple[str, str, str, str]]:
    """bench_unlock.py prints `concurrency seconds ideal ratio raw max-in-flight`."""
    links = 100 if tiny else 1000
    rows = []
    for line in output.splitlines():
        match = re.match(r"\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)", line)
        if match:
            concurrency, seconds, ideal, ratio, raw, _ = match.groups()
            rows.append(
                (
                    f"unlock {links:,} links, latency 50 ms, concurrency {concurrency}",
                    f"{float(seconds):.2f} s = {float(ratio):.3f}x the ideal {ideal} s"
                    f" (bare client {float(raw):.3f}x)",
                    f"<= {UNLOCK_BUDGET}x",
                    "pass" if float(ratio) <= UNLOCK_BUDGET else "fail",
                )
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description="Run every benchmark and print one table.")
    parser.add_argument("--tiny", action="store_true", help="fast smoke sizes")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    benches = sorted(HERE.glob("bench_*.py"))
    table: list[tuple[str, str, str, str]] = []
    broken = []
    for path in benches:
        full, tiny = ARGS.get(path.name, ([], ["--tiny"]))
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, str(path), *(tiny if args.tiny else full)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        rows = rows_of(path.name, result.stdout, args.tiny)
        print(f"  {len(rows)} rows in {seconds:.0f} s", file=sys.stderr, flush=True)
        if result.returncode or not rows:
            broken.append(path.name)
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            why = " / ".join(tail) or "no rows"
            rows.append((f"{path.name} did not run", why[:160], "-", "fail"))
        table.extend(rows)
    print_table(table, machine(), args.markdown)
    return 1 if broken else 0


def print_table(table: list[tuple[str, str, str, str]], about: str, markdown: bool) -> None:
    header = ("figure", "value", "budget", "result")
    if markdown:
        print(f"Measured on: {about}\n")
        print("| " + " | ".join(header) + " |")
        print("|---|---|---|---|")
        for row in table:
            print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        return
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *table]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print(f"\nMachine: {about}")


if __name__ == "__main__":
    raise SystemExit(main())
