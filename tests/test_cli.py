"""The `linkdeck` command in subprocesses: output and every exit code.

Every subprocess runs with XDG_* pointing into tmp_path and LINKDECK_* cleared,
so the user's real configuration and data are never read or touched.
"""

from __future__ import annotations

import json
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from commandline import isolated_env, one_sentence

from tui import __version__
from tui.emulator import Emulator

RG_LINK = "https://rapidgator.net/file/0123456789abcdef0123456789abcdef/movie.mkv"
URL_LINE = re.compile(r"linkdeck emulator listening on http://127\.0\.0\.1:(\d+)/pm-api/v1\.php")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def linkdeck(
    env: dict[str, str], *args: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    if password is not None:
        env = {**env, "LINKDECK_PASSWORD": password}
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- version -----------------------------------------------------------------


def test_python_m_tui_version(env: dict[str, str]) -> None:
    result = linkdeck(env, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"linkdeck {__version__}"


def test_console_script_version(env: dict[str, str]) -> None:
    script = Path(sys.executable).with_name("linkdeck")
    if not script.exists():
        found = shutil.which("linkdeck")
        if found is None:
            pytest.skip("the linkdeck console script is not installed")
        script = Path(found)
    result = subprocess.run(
        [str(script), "--version"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"linkdeck {__version__}"


# --- status and hosters on the demo -----------------------------------------------


def test_status_demo_json(env: dict[str, str], tmp_path: Path) -> None:
    result = linkdeck(env, "status", "--demo", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    account = json.loads(result.stdout)
    assert set(account) == {"account_name", "type", "can_download", "expires", "fairuse_left"}
    assert account["account_name"] == "111111111"
    assert account["type"] == "premium"
    assert account["can_download"] is True
    assert isinstance(account["expires"], int)
    assert account["fairuse_left"] == pytest.approx(0.77)
    assert not any(tmp_path.iterdir())  # the demo never touches the user's directories


def test_status_text_against_an_emulator(env: dict[str, str], emu: Emulator) -> None:
    result = linkdeck(env, "status", "--api-url", emu.url, "--login", "444444444", password="4444")
    assert result.returncode == 0, result.stderr
    assert "444444444" in result.stdout
    assert "prepaid (can download)" in result.stdout
    assert "42" in result.stdout  # fair use 0.42


def test_status_json_expires_null_and_free_cannot_download(
    env: dict[str, str], emu: Emulator
) -> None:
    result = linkdeck(
        env, "status", "--json", "--api-url", emu.url, "--login", "444444444", password="4444"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["expires"] is None
    result = linkdeck(
        env, "--api-url", emu.url, "--login", "222222222", "status", "--json", password="2222"
    )  # profile options before the command work too
    assert result.returncode == 0, result.stderr
    account = json.loads(result.stdout)
    assert (account["type"], account["can_download"]) == ("free", False)


def test_hosters_demo_json(env: dict[str, str]) -> None:
    result = linkdeck(env, "hosters", "--demo", "--json")
    assert result.returncode == 0, result.stderr
    hosters = json.loads(result.stdout)
    assert isinstance(hosters, list) and len(hosters) >= 60
    for hoster in hosters:
        assert (
            {"name", "tlds", "regexes"}
            <= set(hoster)
            <= {
                "name",
                "tlds",
                "regexes",
                "connection_settings",
            }
        )
        assert isinstance(hoster["name"], str)
        assert all(isinstance(t, str) for t in hoster["tlds"])
        assert all(isinstance(r, str) for r in hoster["regexes"])
    by_name = {h["name"]: h for h in hosters}
    assert by_name["1fichier.com"]["connection_settings"] == {
        "max_connections_per_file": 1,
        "max_connections_per_hoster": 3,
        "resume": True,
    }
    # Without its own settings a hoster gets the "all" entry.
    assert by_name["filer.net"]["connection_settings"]["max_connections_per_file"] == 4
    # The broken regex is listed as served; the warning about it goes to stderr.
    assert len(by_name["rapidgator.net"]["regexes"]) == 2
    assert "skipped 1 bad pattern (rapidgator.net)" in result.stderr


def test_hosters_demo_match_found(env: dict[str, str]) -> None:
    result = linkdeck(env, "hosters", "--demo", "--match", RG_LINK)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "rapidgator.net"


def test_hosters_demo_match_not_found(env: dict[str, str]) -> None:
    result = linkdeck(env, "hosters", "--demo", "--match", "https://example.org/a.zip")
    line = assert_one_sentence_error_or_warning(result, 1)
    assert "no hoster serves this URL" in line
    assert result.stdout == ""


def assert_one_sentence_error_or_warning(
    result: subprocess.CompletedProcess[str], code: int
) -> str:
    """Like assert_one_sentence_error, ignoring warning lines (the broken regex)."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [x for x in result.stderr.splitlines() if not x.startswith("linkdeck: warning:")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("linkdeck: ")
    return lines[0]


# --- configuration errors: exit 2 ----------------------------------------------------


def test_missing_api_url_is_a_config_error(env: dict[str, str]) -> None:
    result = linkdeck(env, "status", "--login", "111111111", password="1111")
    line = one_sentence(result, 2)
    assert "no API URL is configured" in line
    assert result.stdout == ""


def test_malformed_config_file_is_a_config_error(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[api]\nurl = "https://api.example.com/pm-api/v1.php"\nlogin = \n')
    config.chmod(0o600)
    before = config.read_bytes()
    result = linkdeck(env, "status", "--config", str(config))
    line = one_sentence(result, 2)
    assert "bad.toml" in line
    assert "line 3" in line
    assert config.read_bytes() == before


def test_plain_http_to_a_remote_host_is_a_config_error(env: dict[str, str]) -> None:
    result = linkdeck(
        env,
        "hosters",
        "--api-url",
        "http://api.example.com/pm-api/v1.php",
        "--login",
        "111111111",
        password="1111",
    )
    line = one_sentence(result, 2)
    assert "plain http" in line
    assert "allow_insecure_http" in line


def test_unknown_option_is_a_usage_error(env: dict[str, str]) -> None:
    result = linkdeck(env, "status", "--frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "unrecognized arguments: --frobnicate" in result.stderr


# --- service errors: exit 3 and 4 -----------------------------------------------------


def test_login_failed_exits_3(env: dict[str, str], emu: Emulator) -> None:
    result = linkdeck(env, "status", "--api-url", emu.url, "--login", "111111111", password="9999")
    line = one_sentence(result, 3)
    assert "login failed" in line
    assert emu.stats.calls["accountstatus"] == 1


def test_unreachable_exits_4(env: dict[str, str]) -> None:
    with socket.socket() as sock:  # bound, not listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/pm-api/v1.php"
        result = linkdeck(env, "hosters", "--api-url", url, "--login", "111111111", password="1")
    line = one_sentence(result, 4)
    assert "unreachable" in line


def test_malformed_answer_exits_4(env: dict[str, str], emu: Emulator) -> None:
    emu.faults.malformed_json = True
    result = linkdeck(
        env, "status", "--json", "--api-url", emu.url, "--login", "111111111", password="1111"
    )
    line = one_sentence(result, 4)
    assert line == "linkdeck: the service sent a malformed answer: not JSON (HTTP 200)"
    assert result.stdout == ""


# --- the emulator command ------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_emulator_command_serves_until_signalled(
    env: dict[str, str], signum: signal.Signals
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "emulator", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready, "the emulator printed nothing"
        line = proc.stdout.readline()
        assert line == f"linkdeck emulator listening on http://127.0.0.1:{port}/pm-api/v1.php\n"
        assert URL_LINE.fullmatch(line.strip())
        # Then who can log in: the demo accounts, each with its PIN.
        accounts = proc.stdout.readline()
        assert accounts.startswith("accounts: 111111111 (PIN 1111, premium), 222222222 (PIN 2222")
        assert "555555555 (PIN 5555, premium, no fair use left)" in accounts
        response = httpx.get(
            f"http://127.0.0.1:{port}/pm-api/v1.php",
            params={
                "method": "accountstatus",
                "params[login]": "111111111",
                "params[pass]": "1111",
            },
            timeout=5,
        )
        assert response.status_code == 200
        assert response.json()["result"]["account_name"] == "111111111"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert out == ""
    assert err == ""  # no traceback, no request log (URLs carry the PIN)


def test_emulator_command_on_a_busy_port_exits_2(env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        result = linkdeck(env, "emulator", "--port", str(sock.getsockname()[1]))
    line = one_sentence(result, 2)
    assert "cannot listen" in line


def test_emulator_command_with_a_bad_scenario_exits_2(env: dict[str, str], tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text("[[accounts]]\nlogin = 5\n")
    result = linkdeck(env, "emulator", "--port", "0", "--scenario", str(scenario))
    line = one_sentence(result, 2)
    assert "scenario" in line


@pytest.mark.parametrize("named_by", ["--config", "LINKDECK_CONFIG"])
@pytest.mark.parametrize("command", ["status", "hosters", "unlock"])
def test_a_config_file_named_but_missing_is_said(
    env: dict[str, str], tmp_path: Path, named_by: str, command: str
) -> None:
    """Not read as an empty config ("no API URL is configured"): the name is likely mistyped."""
    missing = tmp_path / "no" / "such" / "file.toml"
    args = [command, *(["https://uploaded.net/file/abcd1234/a.zip"] if command == "unlock" else [])]
    if named_by == "--config":
        result = linkdeck(env, *args, "--config", str(missing))
    else:
        result = linkdeck({**env, "LINKDECK_CONFIG": str(missing)}, *args)
    line = one_sentence(result, 2)
    assert line == f"linkdeck: {missing}: does not exist (named by {named_by})"


@pytest.mark.parametrize("command", ["status", "hosters", "unlock", "emulator"])
def test_a_bad_flag_shows_the_usage_of_its_command(env: dict[str, str], command: str) -> None:
    result = linkdeck(env, command, "--bogus", *(["x"] if command == "unlock" else []))
    assert result.returncode == 2
    assert result.stderr.startswith(f"usage: linkdeck {command} "), result.stderr
    assert result.stderr.endswith(f"linkdeck {command}: error: unrecognized arguments: --bogus\n")


@pytest.mark.parametrize("command", ["status", "hosters", "unlock", "emulator"])
def test_every_option_says_what_it_does(env: dict[str, str], command: str) -> None:
    """In `--help`, each option's line (or the line under it) has a description."""
    result = linkdeck(env, command, "--help")
    lines = result.stdout.split("options:", 1)[1].strip("\n").splitlines()
    for number, line in enumerate(lines):
        if line.startswith("  -"):
            said = line.strip().split("  ", 1)[1:] or [lines[number + 1].strip()]
            assert said[0].strip() and not said[0].startswith("-"), line
