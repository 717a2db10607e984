"""Helpers for running `linkdeck` in subprocesses: an environment that never
reaches the user's real directories, and the check of a one-sentence error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """os.environ with XDG_* inside `tmp_path` and every LINKDECK_* cleared."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LINKDECK_")}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        clean[name] = str(tmp_path / name.lower())
    clean["PYTHONDONTWRITEBYTECODE"] = "1"
    return {**clean, **extra}


def one_sentence(result: subprocess.CompletedProcess[str], code: int) -> str:
    """Assert exit `code` and a single `linkdeck: ...` line on stderr; return it."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("linkdeck: ")
    return lines[0]


def run_linkdeck(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    """`python -m tui ARGS` in `isolated_env(tmp_path, **env)`, stdin closed."""
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        env=isolated_env(tmp_path, **env),
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
