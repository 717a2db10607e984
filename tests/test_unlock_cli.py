"""`linkdeck unlock` in subprocesses: output, --json, stdin, retries and exit codes.

XDG_* point into tmp_path and LINKDECK_* are cleared, so the user's real
configuration and history are never touched.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from commandline import isolated_env

from tui.emulator import Emulator

REPO = Path(__file__).resolve().parents[1]
GOOD = "https://uploaded.net/file/abc12345/x.zip"
MISSING = "https://uploaded.net/file/abc12346/missing/x.zip"
BUSY = "https://uploaded.net/file/abc12347/busy/x.zip"
UNSUPPORTED = "https://rapidgator.net/file/abc/x.rar"
WRONG_PIN = "97531"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path, PYTHONPATH=str(REPO), LINKDECK_PASSWORD="1111")


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def config(tmp_path: Path, url: str, extra: str = "") -> str:
    path = tmp_path / "config.toml"
    path.write_text(f'[api]\nurl = "{url}"\nlogin = "111111111"\n{extra}')
    path.chmod(0o600)
    return str(path)


def unlock(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", "unlock", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_demo_prints_one_line_per_link_and_fails_when_any_failed(env: dict[str, str]) -> None:
    result = unlock(env, "--demo", f"<{GOOD}>, {MISSING}", UNSUPPORTED)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    by_state = {line.split()[0]: line for line in lines}
    assert GOOD in by_state["done"] and "/dl/" in by_state["done"]
    assert "404 file not found" in by_state["failed"]
    assert UNSUPPORTED in by_state["unsupported"]


def test_json_from_stdin_exits_0_when_all_done(env: dict[str, str]) -> None:
    result = unlock(env, "--demo", "--json", "-", stdin=f"{GOOD}\n{GOOD}\n")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    record = json.loads(line)
    assert set(record) >= {
        "link", "hoster", "state", "status", "message", "location", "filename", "filesize",
        "attempts",
    }  # fmt: skip
    assert (record["link"], record["state"], record["status"]) == (GOOD, "done", 200)
    assert record["hoster"] == "uploaded.net" and record["filename"] == "x.zip"
    assert [a["status"] for a in record["attempts"]] == [200]


def test_temporary_failure_is_reported_waiting_or_failed_with_no_retry(
    env: dict[str, str],
) -> None:
    waiting = unlock(env, "--demo", "--json", BUSY)
    assert waiting.returncode == 1
    assert json.loads(waiting.stdout)["state"] == "waiting"
    # Where it goes from here: it stays queued, for the dashboard or the next run.
    assert waiting.stderr == (
        "linkdeck: 1 link(s) wait for a retry and stay queued: the dashboard, or linkdeck"
        " unlock given them again, sends them when it is time (--wait waits here)\n"
    )
    failed = unlock(env, "--demo", "--json", "--no-retry", BUSY)
    assert failed.returncode == 1
    assert failed.stderr == ""
    assert (json.loads(failed.stdout)["state"], json.loads(failed.stdout)["status"]) == (
        "failed",
        503,
    )


def test_wait_honours_the_retry_delay(env: dict[str, str], emu: Emulator, tmp_path: Path) -> None:
    flaky = "https://uploaded.net/file/abc12348/flaky/x.zip"
    path = config(tmp_path, emu.url, "[unlock]\nretry_delay = 0.2\n")
    result = unlock(env, "--config", path, "--json", "--wait", flaky)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert [a["status"] for a in record["attempts"]] == [503, 503, 200]
    assert result.stderr == ""  # no countdown when stderr is not a terminal


def test_history_is_shared_and_a_recent_link_is_reused(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    path = config(tmp_path, emu.url)
    first = unlock(env, "--config", path, "--json", GOOD)
    assert first.returncode == 0, first.stderr
    emu.reset_stats()
    again = unlock(env, "--config", path, "--json", GOOD)
    assert again.returncode == 0
    assert json.loads(again.stdout)["reused"] is True
    assert json.loads(again.stdout)["location"] == json.loads(first.stdout)["location"]
    assert emu.stats.calls["directdownloadlink"] == 0
    database = Path(env["XDG_DATA_HOME"]) / "linkdeck" / "history.sqlite3"
    assert oct(database.stat().st_mode & 0o777) == "0o600"
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM items WHERE state = 'done'").fetchone() == (2,)


def test_wrong_pin_exits_3_without_showing_it(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    result = unlock(
        {**env, "LINKDECK_PASSWORD": WRONG_PIN}, "--config", config(tmp_path, emu.url), GOOD
    )
    assert result.returncode == 3
    assert "login failed" in result.stderr
    assert WRONG_PIN not in result.stdout + result.stderr
    assert emu.stats.calls["directdownloadlink"] == 0


def test_unreachable_service_exits_4(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/pm-api/v1.php"
    result = unlock(env, "--config", config(tmp_path, url), GOOD)
    assert result.returncode == 4
    assert "unreachable" in result.stderr
    assert "1111" not in result.stderr


def test_no_link_is_a_usage_error(env: dict[str, str]) -> None:
    assert unlock(env, "--demo", "no links here").returncode == 2
    assert unlock(env, "--demo", "--wait", "--no-retry", GOOD).returncode == 2


def test_lines_without_a_link_and_repeated_links_are_said(env: dict[str, str]) -> None:
    text = f"my downloads:\n{GOOD}\n\nsee {GOOD} again\nnot a link either\n"
    result = unlock(env, "--demo", "--json", "-", stdin=text)
    assert [json.loads(line)["state"] for line in result.stdout.splitlines()] == ["done"]
    assert result.stderr.splitlines() == [
        "linkdeck: 2 line(s) hold no http(s) link and were skipped: my downloads:;"
        " not a link either",
        f"linkdeck: 1 link(s) were given more than once and are sent once: {GOOD}",
    ]
    assert result.returncode == 1  # input that was no link is no success


def test_a_repeated_link_alone_is_no_failure(env: dict[str, str]) -> None:
    result = unlock(env, "--demo", GOOD, GOOD)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"linkdeck: 1 link(s) were given more than once and are sent once: {GOOD}\n"
    )
