"""The disk caches are as untrusted as an answer, and belong to one account.

A cache that does not validate (a time no clock can show, an answer that is
malformed) is ignored and replaced at the next good answer, never a crash at
every start. A cache is kept per API URL and login: after a switch of account,
the other account's data never shows as this one's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from commandline import isolated_env
from ptyrun import PtyRun

from tui.disk_cache import cache_file
from tui.emulator import Emulator

FIRST, SECOND, PIN = "111111111", "222222222", "1111"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def dashboard(url: str, login: str) -> list[str]:
    return ["--api-url", url, "--login", login]


POISON = {
    "a time no clock shows": '{"status": 200, "statusmessage": "OK", "at": 1e999, "result": %s}',
    "a negative time": '{"status": 200, "statusmessage": "OK", "at": -1, "result": %s}',
    "a time as text": '{"status": 200, "statusmessage": "OK", "at": "soon", "result": %s}',
    "not an envelope": "[%s]",
}
ACCOUNT = json.dumps(
    {"account_name": "\ud800poisoned", "type": "premium", "expires": 10**30, "fairuse_left": 9}
)


@pytest.mark.parametrize("poison", list(POISON))
def test_a_poisoned_cache_is_ignored_and_replaced(
    poison: str, emulator: Emulator, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, LINKDECK_PASSWORD=PIN)
    folder = tmp_path / "xdg_cache_home" / "linkdeck"
    folder.mkdir(parents=True)
    path = cache_file(folder, "account", emulator.url, FIRST)
    path.write_text(POISON[poison] % ACCOUNT)
    for _ in range(2):  # and the next start works too
        with PtyRun(dashboard(emulator.url, FIRST), env) as run:
            run.wait_for(b"refreshed", 30)
            assert run.proc is not None and run.proc.poll() is None
            run.read(0.5)
            assert run.quit() == 0
        assert b"Traceback" not in bytes(run.output)
    assert json.loads(path.read_text())["result"]["account_name"] == FIRST  # replaced


def test_another_account_s_cache_never_shows(emulator: Emulator, tmp_path: Path) -> None:
    env = isolated_env(tmp_path, LINKDECK_PASSWORD=PIN)
    with PtyRun(dashboard(emulator.url, FIRST), env) as run:
        run.wait_for(b"refreshed", 30)
        assert FIRST.encode() in bytes(run.output)
        assert run.quit() == 0
    url = emulator.url
    emulator.stop()  # the service is away: only a cache could show an account
    with PtyRun(dashboard(url, SECOND), env) as run:
        run.wait_for(b"unreachable", 30)
        run.read(0.5)
        assert run.quit() == 0
    assert FIRST.encode() not in bytes(run.output)
