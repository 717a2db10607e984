"""Every emulator fault through `linkdeck status`, `hosters` and `unlock` in subprocesses:
the documented exit code and one sentence on stderr, never a traceback.

tests/test_cli.py and tests/test_unlock_cli.py cover a malformed answer for
`status`, a refused connection, a wrong PIN for `status` and `unlock`, failed
links and config errors; this file adds the other faults and commands.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import commandline
import pytest
from commandline import isolated_env

from tui.api.parse import MAX_HOSTERLIST_BYTES
from tui.emulator import Emulator, Faults

LINK = "https://uploaded.net/file/clifault1/x.zip"
COMMANDS = {
    "status": ["status"],
    "hosters": ["hosters"],
    "unlock": ["unlock", LINK],
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path, LINKDECK_PASSWORD="1111")


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def config(tmp_path: Path, timeout: float = 0.5) -> str:
    path = tmp_path / "fast.toml"
    path.write_text(f"[api]\ntimeout = {timeout}\n")
    path.chmod(0o600)
    return str(path)


def run_all(
    env: dict[str, str], emu: Emulator, tmp_path: Path, timeout: float = 0.5
) -> dict[str, subprocess.CompletedProcess[str]]:
    """The three commands at once against `emu`, each with its own output."""
    running = {}
    for name, args in COMMANDS.items():
        argv = [*args, "--config", config(tmp_path, timeout), "--api-url", emu.url]
        running[name] = subprocess.Popen(
            [sys.executable, "-m", "tui", *argv, "--login", "111111111"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {}
    for name, proc in running.items():
        out, err = proc.communicate(timeout=60)
        results[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return results


def one_sentence(result: subprocess.CompletedProcess[str], code: int) -> str:
    line = commandline.one_sentence(result, code)
    assert "1111" not in result.stderr + result.stdout
    return line


FAULTS = {
    "latency": (Faults(latency_ms=1500), "the service is unreachable: timed out"),
    "every answer 5xx": (Faults(error_rate=1.0, seed=3), "the service answered 50"),
    "malformed json": (
        Faults(malformed_json=True),
        "the service sent a malformed answer: not JSON (HTTP 200)",
    ),
    "html error page": (
        Faults(html_error_page=True),
        "the service sent a malformed answer: HTML page instead of JSON (HTTP 502)",
    ),
    "connection reset": (Faults(connection_reset=True), "the service is unreachable: "),
    "hang": (Faults(hang_seconds=5), "the service is unreachable: timed out"),
    "body over the cap": (
        Faults(huge_body_bytes=MAX_HOSTERLIST_BYTES + 1024 * 1024),
        "the service sent a malformed answer: body larger than",
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_exits_4_with_one_sentence(
    fault: str, env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    faults, sentence = FAULTS[fault]
    emu.faults = faults
    # The timeout bounds each whole call: reading 33 MB needs more than the half
    # second that ends the latency and the hang.
    timeout = 10 if fault == "body over the cap" else 0.5
    for name, result in run_all(env, emu, tmp_path, timeout).items():
        line = one_sentence(result, 4)
        assert line.startswith(f"linkdeck: {sentence}"), (name, line)
        assert result.stdout == "", name
    # unlock asks for the hoster list first: no link was sent to a failing service.
    assert emu.stats.calls["directdownloadlink"] == 0


def test_server_stopped_exits_4(env: dict[str, str], emu: Emulator, tmp_path: Path) -> None:
    emu.stop()
    for name, result in run_all(env, emu, tmp_path).items():
        line = one_sentence(result, 4)
        assert line.startswith("linkdeck: the service is unreachable: connection failed"), (
            name,
            line,
        )
    emu.restart()  # and back: every command works again
    results = run_all(env, emu, tmp_path, timeout=5)
    assert {name: r.returncode for name, r in results.items()} == dict.fromkeys(COMMANDS, 0)
    assert results["status"].stderr == results["unlock"].stderr == ""
    # hosters warns of the default scenario's one broken pattern, as it should.
    assert "skipped 1 bad pattern (rapidgator.net)" in results["hosters"].stderr


def test_wrong_pin_exits_3_for_hosters(env: dict[str, str], emu: Emulator, tmp_path: Path) -> None:
    results = run_all({**env, "LINKDECK_PASSWORD": "8642"}, emu, tmp_path)
    for result in results.values():
        line = one_sentence(result, 3)
        assert line == "linkdeck: login failed: check the login and PIN in your settings"
        assert "8642" not in result.stderr


def test_fifty_thousand_hosters(env: dict[str, str], emu: Emulator, tmp_path: Path) -> None:
    emu.faults = Faults(generated_hosters=50_000)
    results = run_all(env, emu, tmp_path, timeout=10)
    assert results["status"].returncode == 0, results["status"].stderr
    hosters = results["hosters"]
    assert hosters.returncode == 0 and hosters.stderr == "", hosters.stderr
    lines = hosters.stdout.splitlines()
    assert len(lines) == 50_001 and lines[-1] == "50000 hosters"
    assert lines[42].startswith("host00042.example ")
    # The generated list serves no real hoster: the link is unsupported, exit 1.
    unlock = results["unlock"]
    assert unlock.returncode == 1, unlock.stderr
    assert unlock.stdout.startswith("unsupported") and unlock.stderr == ""
