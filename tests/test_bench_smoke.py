"""The table benchmarks still run (at a tiny size, in a subprocess): not timed tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent / "bench"


def tiny_rows(script: str) -> list[str]:
    """The table rows `script --tiny` prints, header first; it must exit 0."""
    result = subprocess.run(
        [sys.executable, str(BENCH / script), "--tiny"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("| ")]


@pytest.mark.parametrize("script", ["bench_table.py"])
def test_bench_runs_tiny(script: str) -> None:
    rows = tiny_rows(script)
    assert rows[0] == "| figure | value | budget | pass/fail |"
    figures = rows[1:]
    assert len(figures) == 4
    for row in figures:
        assert row.rstrip(" |").rsplit("| ", 1)[-1] in {"pass", "FAIL", "-"}, row


@pytest.mark.parametrize(
    "script", ["bench_download.py", "bench_matcher.py", "bench_queue_cli.py", "bench_search.py"]
)
def test_small_benchmarks_run_tiny(script: str) -> None:
    rows = tiny_rows(script)
    assert rows[0] == "| figure | value | budget | pass/fail |"
    assert rows[1:]
    for row in rows[1:]:
        assert row.rstrip(" |").rsplit("| ", 1)[-1] in {"pass", "FAIL"}, row
