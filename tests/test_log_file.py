"""The log file: failures nobody expected are written there in full, `--debug`
writes every step, and it never holds the PIN nor breaks the program.

Run from outside: the real command in a subprocess with its own XDG
directories, and the log file read back from disk.
"""

from __future__ import annotations

import logging
import stat
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


def leaked(data: bytes) -> list[bytes]:
    return [form for form in forms(PIN) if form in data]


def test_debug_writes_the_requests_without_the_pin(tmp_path: Path, emulator: Emulator) -> None:
    result = run_linkdeck(
        tmp_path,
        "--debug",
        "unlock",
        "--api-url",
        emulator.url,
        "--login",
        LOGIN,
        LINK,
        LINKDECK_PASSWORD=PIN,
    )
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
    result = run_linkdeck(
        tmp_path, "unlock", "--api-url", emulator.url, "--login", LOGIN, LINK, LINKDECK_PASSWORD=PIN
    )
    assert result.returncode == 0, result.stderr
    log = log_of(tmp_path)
    assert not log.exists() or b"HTTP Request" not in log.read_bytes()


def test_an_unwritable_place_costs_nothing(tmp_path: Path, emulator: Emulator) -> None:
    """The state directory is a file: the command works, and says nothing of the log."""
    (tmp_path / "xdg_state_home").write_text("not a folder")
    result = run_linkdeck(
        tmp_path,
        "--debug",
        "unlock",
        "--api-url",
        emulator.url,
        "--login",
        LOGIN,
        LINK,
        LINKDECK_PASSWORD=PIN,
    )
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
