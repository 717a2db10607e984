"""The log file: failures nobody expected are written there in full, `--debug`
writes every step, and it never holds the PIN nor breaks the program.

Run from outside: the real command in a subprocess with its own XDG
directories, and the log file read back from disk.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
from pathlib import Path

import pytest
from commandline import run_linkdeck
from test_no_leaks import forms

from tui.core.log_file import BACKUPS, MAX_BYTES, LogFile
from tui.emulator import AccountSpec, Emulator, default_scenario
from tui.secret import Secret

LOGIN, PIN = "123456789", "5ecret-P1N/+"
LINK = "https://uploaded.net/file/abcd1234/holiday.zip"


@pytest.fixture(scope="module")
def emulator() -> Emulator:
    scenario = default_scenario()
    scenario.accounts = [AccountSpec(LOGIN, PIN, "premium", expires_in_days=30, fairuse_left=0.8)]
    with Emulator(scenario) as emu:
        yield emu


def log_of(tmp_path: Path) -> Path:
    return tmp_path / "xdg_state_home" / "linkdeck" / "linkdeck.log"


def linkdeck(tmp_path: Path, emulator: Emulator, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The command with `args`, against `emulator` as LOGIN, the PIN from the environment."""
    where = ("--api-url", emulator.url, "--login", LOGIN)
    return run_linkdeck(tmp_path, *args, *where, LINKDECK_PASSWORD=PIN)


def leaked(data: bytes) -> list[bytes]:
    return [form for form in forms(PIN) if form in data]


def test_debug_writes_the_requests_without_the_pin(tmp_path: Path, emulator: Emulator) -> None:
    result = linkdeck(tmp_path, emulator, "--debug", "unlock", LINK)
    assert result.returncode == 0, result.stderr
    log = log_of(tmp_path)
    data = log.read_bytes()
    assert b"HTTP Request: GET" in data and b"directdownloadlink" in data, data[:2000]
    assert b"params%5Bpass%5D=***" in data or b"params[pass]=***" in data, data[:2000]
    assert not leaked(data), leaked(data)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    assert not leaked(result.stdout + result.stderr)


def test_without_debug_the_steps_are_not_written(tmp_path: Path, emulator: Emulator) -> None:
    result = linkdeck(tmp_path, emulator, "unlock", LINK)
    assert result.returncode == 0, result.stderr
    log = log_of(tmp_path)
    assert not log.exists() or b"HTTP Request" not in log.read_bytes()


def test_an_unwritable_place_costs_nothing(tmp_path: Path, emulator: Emulator) -> None:
    """The state directory is a file: the command works, and says nothing of the log."""
    (tmp_path / "xdg_state_home").write_text("not a folder")
    result = linkdeck(tmp_path, emulator, "--debug", "unlock", LINK)
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr and b"Logging error" not in result.stderr


def test_the_file_rotates_and_every_copy_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "linkdeck.log"
    log_file = LogFile(path, debug=True)
    log_file.start()
    log_file.add_secret(Secret(PIN))
    try:
        logger = logging.getLogger("tui.test")
        record = f"a record with the PIN {PIN} in it " + "x" * 1000
        for _ in range(MAX_BYTES * (BACKUPS + 2) // 1000):
            logger.warning(record)
    finally:
        log_file.stop()
    files = sorted(path.parent.iterdir())
    assert [file.name for file in files] == ["linkdeck.log"] + [
        f"linkdeck.log.{n}" for n in range(1, BACKUPS + 1)
    ]
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert file.stat().st_size <= MAX_BYTES + 2000
        data = file.read_bytes()
        assert b"a record with the PIN *** in it" in data
        assert not leaked(data), (file, leaked(data))


def test_a_file_made_by_another_umask_becomes_private(tmp_path: Path) -> None:
    path = tmp_path / "linkdeck.log"
    path.write_text("old\n")
    path.chmod(0o644)
    with LogFile(path):
        logging.getLogger("tui.test").error("one record")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "one record" in path.read_text()


def test_a_link_at_the_log_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("")
    path = tmp_path / "linkdeck.log"
    path.symlink_to(target)
    log_file = LogFile(path)
    log_file.start()
    logging.getLogger("tui.test").error("one record")
    log_file.stop()
    assert target.read_text() == ""
    assert log_file.problem is not None and str(path) in log_file.problem


def test_a_short_pin_is_scrubbed_from_urls_and_dates_stay_readable(tmp_path: Path) -> None:
    """A 4-digit PIN is in every timestamp of its year: it is taken out of the
    URL that carries it, by the URL's shape, and nowhere else."""
    path = tmp_path / "linkdeck.log"
    with LogFile(path, debug=True) as log_file:
        log_file.add_secret(Secret("2026"))
        logging.getLogger("httpx").info(
            "HTTP Request: GET http://h/v1.php?params%5Blogin%5D=1&params%5Bpass%5D=2026 200"
        )
        logging.getLogger("tui.test").warning("echoed: params[pass]=2026&x=1; 12026 bytes")
    text = path.read_text()
    assert "params%5Bpass%5D=***" in text and "params[pass]=***" in text, text
    assert "pass%5D=2026" not in text and "pass]=2026" not in text
    assert "12026 bytes" in text  # not "1*** bytes"


def test_urls_are_scrubbed_before_any_pin_is_known(tmp_path: Path) -> None:
    """The settings form tests a PIN the session never saw: its URL is scrubbed all the same."""
    path = tmp_path / "linkdeck.log"
    with LogFile(path, debug=True):
        logging.getLogger("httpcore").debug("header X-Request: /v1.php?params[pass]=98765432")
    assert "98765432" not in path.read_text()


def test_a_fifo_at_the_log_costs_nothing(tmp_path: Path, emulator: Emulator) -> None:
    folder = tmp_path / "xdg_state_home" / "linkdeck"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "linkdeck.log")
    result = linkdeck(tmp_path, emulator, "--debug", "status")
    assert result.returncode == 0, result.stderr
    assert b"premium" in result.stdout and result.stderr == b""


def test_status_and_hosters_take_debug_too(tmp_path: Path, emulator: Emulator) -> None:
    for command in ("status", "hosters"):
        result = linkdeck(tmp_path, emulator, command, "--debug")
        assert result.returncode == 0, result.stderr
        data = log_of(tmp_path).read_bytes()
        assert f"method={'accountstatus' if command == 'status' else 'hosterlist'}".encode() in data
        assert not leaked(data)
