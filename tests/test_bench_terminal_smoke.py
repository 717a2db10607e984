"""The terminal benchmarks still run (on tiny sizes). Their figures are not
checked here: benchmarks are not timed tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent / "bench" / "bench_terminal.py"
FIGURES = (
    "start to first frame",
    "bytes written per second while idle",
    "CPU while idle",
    "bytes written by one unchanged account refresh",
    "bytes written per mouse move, hoster table",
    "bytes written per mouse move, log",
    "key press handled while",
    "peak memory with",
    "memory growth over",
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_bench_terminal_tiny_runs_and_prints_its_rows() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--tiny"],
        capture_output=True,
        text=True,
        timeout=180,  # a hang, not a speed limit
        cwd=BENCH.parents[2],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split(" | ") for line in result.stdout.splitlines() if " | " in line]
    assert all(len(row) == 4 and row[3] in ("pass", "FAIL") for row in rows), result.stdout
    for figure in FIGURES:
        assert any(row[0].startswith(figure) for row in rows), (figure, result.stdout)
