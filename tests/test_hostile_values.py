"""Values of every shape a server can send, through the real commands.

The hostile server of tests/hostile.py answers with a `result` the test sets:
numbers out of range (far future, negative, NaN, huge, strings of digits) and
strings that cannot be stored or printed as they are (lone surrogates, which
are valid JSON, NUL, non-characters). Each command must end with its
documented exit code, output that can be read back, and no traceback; an
unlock must end (never hang "unlocking") with a history that reads back.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from commandline import isolated_env, run_linkdeck
from hostile import HostileServer, link

LOGIN, PIN = "123456789", "1111"
GOOD_ACCOUNT = {
    "account_name": "benign",
    "type": "premium",
    "expires": 1_900_000_000,
    "fairuse_left": 0.5,
}
NOT_TEXT = ["\ud800", "a\udfffb", "nul\x00byte", "non\ufffe\uffffchar", "\ud83d\ude00 ok"]


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer(LOGIN, PIN) as hostile:
        yield hostile


def run(
    server: HostileServer, tmp_path: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[bytes]:
    return run_linkdeck(
        tmp_path,
        *args,
        LINKDECK_PASSWORD=PIN,
        LINKDECK_API_URL=server.url,
        LINKDECK_LOGIN=LOGIN,
        **env,
    )


def no_traceback(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    assert all(line.startswith("linkdeck: ") for line in err.splitlines()), err
    return err


EXPIRES = [10**20, 2**70, 1e300, -5, 1.5e9, "1900000000", "9" * 5000, 253402300800]
FAIRUSE = [math.nan, math.inf, -math.inf, -1, 2, 0.25]


@pytest.mark.parametrize("expires", EXPIRES, ids=repr)
def test_status_with_an_expiry_of_any_size(
    expires: Any, server: HostileServer, tmp_path: Path
) -> None:
    server.results["accountstatus"] = {**GOOD_ACCOUNT, "expires": expires}
    result = run(server, tmp_path, "status")
    no_traceback(result)
    assert result.returncode in (0, 4), result
    result = run(server, tmp_path, "status", "--json")
    no_traceback(result)
    assert result.returncode in (0, 4), result
    if result.returncode == 0:
        shown = json.loads(result.stdout)
        assert shown["expires"] is None or 0 <= shown["expires"] <= 253402300799


@pytest.mark.parametrize("fairuse", FAIRUSE, ids=repr)
def test_status_with_fair_use_of_any_value(
    fairuse: float, server: HostileServer, tmp_path: Path
) -> None:
    server.results["accountstatus"] = {**GOOD_ACCOUNT, "fairuse_left": fairuse}
    result = run(server, tmp_path, "status", "--json")
    no_traceback(result)
    assert result.returncode in (0, 4)
    if result.returncode == 0:
        assert 0 <= json.loads(result.stdout)["fairuse_left"] <= 1


@pytest.mark.parametrize("text", NOT_TEXT, ids=repr)
@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_status_with_an_account_name_that_is_not_text(
    text: str, encoding: str, server: HostileServer, tmp_path: Path
) -> None:
    server.results["accountstatus"] = {**GOOD_ACCOUNT, "account_name": text, "type": text}
    for args in (["status"], ["status", "--json"]):
        result = run(server, tmp_path, *args, PYTHONIOENCODING=encoding)
        no_traceback(result)
        assert result.returncode == 0, result.stderr
        if "--json" in args:
            json.loads(result.stdout)


@pytest.mark.parametrize("text", NOT_TEXT, ids=repr)
def test_hosters_with_names_that_are_not_text(
    text: str, server: HostileServer, tmp_path: Path
) -> None:
    server.results["hosterlist"] = {
        "hosters": {text: {"tlds": [text, "h0.example"], "regexes": [r"https?://h0\.example/.*"]}}
    }
    for args in (["hosters"], ["hosters", "--json"], ["hosters", "--match", link("bold", "done")]):
        result = run(server, tmp_path, *args, PYTHONIOENCODING="ascii")
        no_traceback(result)
        assert result.returncode in (0, 1), result.stderr
        if "--json" in args:
            json.loads(result.stdout)


FILENAMES = NOT_TEXT
FILESIZES = [2**70, -1, 1e300, "9" * 30, 12.5, math.nan]


def history_rows(tmp_path: Path) -> list[tuple[Any, ...]]:
    path = tmp_path / "xdg_data_home" / "linkdeck" / "history.sqlite3"
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT state, filename, filesize FROM items").fetchall()


@pytest.mark.parametrize(
    "field, value",
    [*(("filename", v) for v in FILENAMES), *(("filesize", v) for v in FILESIZES)],
    ids=repr,
)
def test_unlock_stores_and_prints_any_answer(
    field: str, value: Any, server: HostileServer, tmp_path: Path
) -> None:
    """An answer that cannot be stored as it is made `linkdeck unlock` hang with
    the row left unlocking, and sent again at every start."""
    answer = {"location": "http://files.example/dl/x", "filename": "x.zip", "filesize": 1}
    server.results["directdownloadlink"] = {**answer, field: value}
    target = link("bold", "done")
    for args in (["unlock", "--json", target], ["unlock", "--no-retry", target]):
        result = run(server, tmp_path, *args, PYTHONIOENCODING="ascii")
        no_traceback(result)
        assert result.returncode in (0, 1), result.stderr
        if "--json" in args:
            (record,) = [json.loads(line) for line in result.stdout.splitlines()]
            assert record["state"] in ("done", "failed")
    rows = history_rows(tmp_path)
    assert rows and all(state in ("done", "failed") for state, *_ in rows), rows


@pytest.mark.parametrize("status", [200.0, 1e30, 10**30, -1, "abc", True], ids=repr)
def test_a_status_of_any_shape(status: Any, server: HostileServer, tmp_path: Path) -> None:
    server.results["envelope:accountstatus"] = {
        "status": status,
        "statusmessage": "OK",
        "result": GOOD_ACCOUNT,
    }
    server.results["envelope:directdownloadlink"] = {
        "status": status,
        "statusmessage": "\ud800",
        "result": None,
    }
    result = run(server, tmp_path, "status", "--json")
    no_traceback(result)
    assert result.returncode in (0, 1, 4)
    result = run(server, tmp_path, "unlock", "--json", "--no-retry", link("bold", "done"))
    no_traceback(result)
    assert result.returncode in (0, 1, 4)
    rows = history_rows(tmp_path)
    assert rows and all(state in ("done", "failed") for state, *_ in rows), rows


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b"], ids=repr)
def test_a_message_that_breaks_lines_stays_one_sentence(
    separator: str, server: HostileServer, tmp_path: Path
) -> None:
    """Line and paragraph separators end a line wherever lines are split: a
    server's message holding one would make one error two lines."""
    server.results["envelope:accountstatus"] = {
        "status": 0,
        "statusmessage": f"Daily limit{separator}reached",
        "result": None,
    }
    result = run(server, tmp_path, "status")
    assert result.returncode == 1, result
    err = no_traceback(result)
    assert len(err.splitlines()) == 1, err
    assert "Daily limit\ufffdreached" in err


@pytest.mark.parametrize("login", ["john", "user@example.org", "12345"])
def test_the_spec_s_own_example_login_works(login: str, tmp_path: Path) -> None:
    """The spec logs in as `john`: any login the service accepts is accepted."""
    from tui.emulator import AccountSpec, Emulator, default_scenario

    scenario = default_scenario()
    scenario.accounts = [AccountSpec(login, "1234", "premium", expires_in_days=30)]
    with Emulator(scenario) as emulator:
        environment = isolated_env(tmp_path, LINKDECK_PASSWORD="1234")
        args = ["status", "--json", "--api-url", emulator.url, "--login", login]
        result = subprocess.run(
            [sys.executable, "-m", "tui", *args],
            env=environment,
            capture_output=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["type"] == "premium"


def test_a_login_with_a_control_character_is_refused(tmp_path: Path) -> None:
    environment = isolated_env(tmp_path, LINKDECK_PASSWORD="1234")
    args = ["status", "--api-url", "http://127.0.0.1:9/x", "--login", "jo\x1b[2Jhn"]
    result = subprocess.run(
        [sys.executable, "-m", "tui", *args],
        env=environment,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert b"control" in result.stderr and b"\x1b" not in result.stderr


def unlock_run(
    server: HostileServer, tmp_path: Path, args: list[bytes | str], stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    environment = isolated_env(
        tmp_path, LINKDECK_PASSWORD=PIN, LINKDECK_API_URL=server.url, LINKDECK_LOGIN=LOGIN
    )
    return subprocess.run(
        [sys.executable.encode(), b"-m", b"tui", b"unlock", *(os.fsencode(a) for a in args)],
        env=environment,
        capture_output=True,
        input=stdin,
        timeout=60,
    )


GOOD_LINK = link("bold", "done")
BAD_INPUTS = {
    "argument not UTF-8": ([GOOD_LINK.encode() + b"\xff\xfe"], b"", 2),
    "stdin not UTF-8": (["-"], GOOD_LINK.encode() + b"\n\xff\xfe\x00binary\n", 2),
    "stdin binary": (["-"], bytes(range(256)) * 40, 2),
    "a link too long for a URL": ([GOOD_LINK + "a" * 70_000], b"", 2),
    "a NUL in a link": (["-"], GOOD_LINK.encode() + b"\x00tail\n", 2),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_unlock_input_that_is_no_text_or_no_link_is_one_sentence(
    case: str, server: HostileServer, tmp_path: Path
) -> None:
    args, stdin, code = BAD_INPUTS[case]
    result = unlock_run(server, tmp_path, args, stdin)
    err = no_traceback(result)
    assert result.returncode == code, err
    assert len(err.splitlines()) == 1, err


@pytest.mark.parametrize("history", ["directory", "read-only"])
def test_unlock_on_a_history_it_cannot_use_is_one_sentence(
    history: str, server: HostileServer, tmp_path: Path
) -> None:
    folder = tmp_path / "xdg_data_home" / "linkdeck"
    folder.mkdir(parents=True)
    if history == "directory":
        (folder / "history.sqlite3").mkdir()
    else:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(folder)],
            capture_output=True,
        )
        if mounted.returncode != 0:
            pytest.skip("cannot mount a tmpfs here")
    try:
        result = unlock_run(server, tmp_path, [GOOD_LINK])
    finally:
        if history == "read-only":
            subprocess.run(["umount", "-l", str(folder)], check=False)
    err = no_traceback(result)
    assert result.returncode == 2 and len(err.splitlines()) == 1, err
    assert "history" in err


@pytest.mark.parametrize(
    "args", [["--port", "99999"], ["--port", "abc"], ["--host", "no.such.host.invalid"]]
)
def test_emulator_arguments_it_cannot_use_exit_2(args: list[str], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui", "emulator", *args],
        env=isolated_env(tmp_path),
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr, result.stderr
