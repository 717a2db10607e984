"""The run-wide guard of conftest.py: a test run that writes into the user's
own linkdeck folders fails, naming what it wrote; one that does not, passes.

Each case runs pytest in a subprocess on a copy of this folder's conftest and
one small test, with "real" XDG folders of its own to watch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent

WRITES_HISTORY = """
import os
from pathlib import Path

def test_writes_where_it_should_not():
    # What a History() opened at its default place, before any fixture, did.
    target = Path(os.environ["REAL_DATA"]) / "linkdeck" / "history.sqlite3"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"")
"""

USES_DEFAULT_PATHS = """
import os
from pathlib import Path
from tui.settings import cache_dir, config_path, data_dir, state_dir
from tui.unlock.history import History

def test_opens_the_history_at_its_default_place():
    with History() as history:  # the default: the data directory
        assert history.path.parent == data_dir()
    real = Path(os.environ["REAL_DATA"]).parent
    for place in (config_path(), data_dir(), cache_dir(), state_dir(), Path.home()):
        assert not place.is_relative_to(real), place
"""


def run_pytest(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    for helper in ("conftest.py", "deck.py"):
        shutil.copy(TESTS / helper, tmp_path / helper)
    (tmp_path / "test_sample.py").write_text(body)
    real = tmp_path / "real"
    env = {
        **os.environ,
        "HOME": str(real / "home"),
        "REAL_DATA": str(real / "data"),
        "XDG_DATA_HOME": str(real / "data"),
        "XDG_CONFIG_HOME": str(real / "config"),
        "XDG_CACHE_HOME": str(real / "cache"),
        "XDG_STATE_HOME": str(real / "state"),
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            "-c",
            "/dev/null",
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_sample.py"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )


def test_a_run_that_writes_into_the_users_folders_fails(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, WRITES_HISTORY)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert "wrote into the user's own linkdeck folders" in result.stdout
    assert "history.sqlite3" in result.stdout


def test_the_default_places_are_temporary_during_a_run(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, USES_DEFAULT_PATHS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "real").exists()
