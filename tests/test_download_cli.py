"""`linkdeck download` and `linkdeck unlock --download` in subprocesses, against
the emulator: files on disk byte for byte, progress on stderr (a line per state
change, or bars on a terminal), --json, exit codes, and a download stopped by
Ctrl-C or SIGKILL that the next run resumes from what is on disk.

XDG_* point into tmp_path and LINKDECK_* are cleared, so the user's real
configuration, history and download folder are never touched.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from commandline import isolated_env, one_sentence
from ptyrun import PtyRun
from test_no_leaks import forms

from tui.cli import parse
from tui.commands.download_progress import DownloadProgress
from tui.core import Profile, Session
from tui.core.download_queue import DownloadAction
from tui.download.job import Download, DownloadState
from tui.emulator import AccountSpec, Emulator, Faults, default_scenario
from tui.emulator.downloads import content, remote_file
from tui.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
LOGIN, PIN = "123456789", "7319Zq+/x"
SMALL = "https://uploaded.net/file/dlsm0043/small-43.zip"  # 20,969,277 bytes
OTHER = "https://uploaded.net/file/dlsm0086/small-86.zip"  # 21,055,078 bytes
MISSING = "https://uploaded.net/file/abc12346/missing/x.zip"  # 404: never unlocked


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path, PYTHONPATH=str(REPO), LINKDECK_PASSWORD=PIN)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    scenario = default_scenario()
    scenario.accounts = [AccountSpec(LOGIN, PIN, "premium", expires_in_days=30)]
    with Emulator(scenario) as emulator:
        yield emulator


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture
def conf(tmp_path: Path, emu: Emulator, files: Path) -> str:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[api]\nurl = "{emu.url}"\nlogin = "{LOGIN}"\n'
        f'[download]\ndir = "{files}"\nmin_free_space = 0\n'
    )
    path.chmod(0o600)
    return str(path)


def linkdeck(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def started(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def unlocked(env: dict[str, str], conf: str, *links: str) -> list[int]:
    """The ids `linkdeck unlock --json` gives the links, in their order (it
    prints each link as it ends)."""
    result = linkdeck(env, "unlock", "--config", conf, "--json", *links)
    ids = {record["link"]: record["id"] for record in map(json.loads, result.stdout.splitlines())}
    return [ids[link] for link in links]


def leaks(data: bytes) -> list[bytes]:
    """The forms of the PIN in `data` (raw, URL-encoded, base64)."""
    return [form for form in forms(PIN) if form in data]


def digest_of_remote(link: str) -> str:
    remote = remote_file(link)
    return hashlib.sha256(content(remote.seed, 0, remote.size)).hexdigest()


def digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wait_until(condition, seconds: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def part_size(folder: Path) -> int:
    """The bytes written to the `.part` so far: its blocks on disk, as the
    engine sizes it to the whole file (sparse) before it writes."""
    parts = list(folder.glob("*.part")) if folder.exists() else []
    return parts[0].stat().st_blocks * 512 if parts else 0


def test_an_item_is_downloaded_byte_for_byte_with_a_json_line(
    env: dict[str, str], conf: str, files: Path
) -> None:
    (item_id,) = unlocked(env, conf, SMALL)
    result = linkdeck(env, "download", "--config", conf, "--json", str(item_id))
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    record = json.loads(line)
    assert set(record) == {"id", "link", "state", "path", "bytes", "seconds", "error"}
    assert (record["id"], record["link"], record["state"]) == (item_id, SMALL, "done")
    assert record["path"] == str(files / "small-43.zip") and record["error"] is None
    assert record["bytes"] == 20_969_277 and record["seconds"] >= 0
    assert digest_of(files / "small-43.zip") == digest_of_remote(SMALL)
    # Not a terminal: one line per state change, no bar.
    states = [line.split()[0] for line in result.stderr.splitlines()]
    assert states[0] == "queued" and states[-1] == "done", result.stderr
    assert "downloading" in states
    assert "\r" not in result.stderr and "━" not in result.stderr
    assert not leaks((result.stdout + result.stderr).encode())


def test_what_cannot_be_downloaded_is_said_per_item_and_exits_1(
    env: dict[str, str], conf: str
) -> None:
    never_unlocked, unlocked_id = unlocked(env, conf, MISSING, SMALL)
    result = linkdeck(
        env, "download", "--config", conf, "--json", str(never_unlocked), "9999", str(unlocked_id)
    )
    assert result.returncode == 1, result.stderr
    records = {record["id"]: record for record in map(json.loads, result.stdout.splitlines())}
    assert records[unlocked_id]["state"] == "done"
    assert records[never_unlocked]["state"] == "not downloaded"
    assert records[never_unlocked]["error"] == "not unlocked yet"
    assert records[never_unlocked]["link"] == MISSING
    assert records[9999]["error"] == "no item 9999 in the history"
    assert f"#{never_unlocked} not downloaded: not unlocked yet" in result.stderr
    assert "#9999 not downloaded: no item 9999 in the history" in result.stderr


def test_all_done_downloads_what_is_not_downloaded_yet(
    env: dict[str, str], conf: str, files: Path
) -> None:
    first, second, _missing = unlocked(env, conf, SMALL, OTHER, MISSING)
    assert linkdeck(env, "download", "--config", conf, str(first)).returncode == 0
    result = linkdeck(env, "download", "--config", conf, "--all-done")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.split()[:2] == ["done", f"#{second}"]
    assert line.endswith(str(files / "small-86.zip"))
    assert sorted(p.name for p in files.iterdir()) == ["small-43.zip", "small-86.zip"]
    nothing = linkdeck(env, "download", "--config", conf, "--all-done")
    assert (nothing.returncode, nothing.stdout) == (0, "")
    assert nothing.stderr == "linkdeck: every done item is downloaded already\n"
    again = linkdeck(env, "download", "--config", conf, str(first))
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"done        #{first}  {files / 'small-43.zip'}\n"


def test_a_hostile_file_name_is_shown_plain(env: dict[str, str], conf: str, files: Path) -> None:
    hostile = "https://rapidgator.net/file/0123456789abcdef0123456789abcdef/name-controls/x.bin"
    (item_id,) = unlocked(env, conf, hostile)
    with PtyRun(["download", "--config", conf, str(item_id)], env) as run:
        assert run.wait_exit(60) == 0
    (saved,) = files.iterdir()
    output = bytes(run.output)
    assert str(saved).encode() in output
    assert b"\x1b[31m" not in output and b"\x07" not in output and b"\x00" not in output


def test_a_failed_download_says_why_and_the_next_run_retries_it(
    env: dict[str, str], conf: str, files: Path
) -> None:
    (item_id,) = unlocked(env, conf, SMALL)
    settings = Path(conf).read_text()
    Path(conf).write_text(settings.replace("min_free_space = 0", f"min_free_space = {1 << 60}"))
    failed = linkdeck(env, "download", "--config", conf, "--json", str(item_id))
    assert failed.returncode == 1, failed.stderr
    record = json.loads(failed.stdout)
    assert record["state"] == "failed" and record["error"]
    assert f"failed      #{item_id} small-43.zip: {record['error']}" in failed.stderr
    Path(conf).write_text(settings)
    again = linkdeck(env, "download", "--config", conf, str(item_id))
    assert again.returncode == 0, again.stderr
    assert digest_of(files / "small-43.zip") == digest_of_remote(SMALL)


@pytest.mark.parametrize("elsewhere", [False, True], ids=["same-folder", "dir-given"])
async def test_a_download_paused_in_the_dashboard_is_resumed(
    env: dict[str, str], conf: str, emu: Emulator, files: Path, tmp_path: Path, elsewhere: bool
) -> None:
    (item_id,) = unlocked(env, conf, SMALL)
    emu.faults = Faults(dl_rate=2_000_000)
    data = Path(env["XDG_DATA_HOME"]) / "linkdeck"
    settings = load_settings(Path(conf), env={"LINKDECK_PASSWORD": PIN}).settings
    session = Session(Profile(settings, Path(conf), data, Path(env["XDG_CACHE_HOME"])))
    await session.open()
    await session.connect()
    try:
        session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
        while part_size(files) < 2_000_000:
            await asyncio.sleep(0.05)
        session.act_on_downloads([item_id], DownloadAction.PAUSE)
    finally:
        await session.close()
    emu.faults = Faults()
    other = ["--dir", str(tmp_path / "other")] if elsewhere else []
    result = await asyncio.to_thread(
        linkdeck, env, "download", "--config", conf, *other, str(item_id)
    )
    assert result.returncode == 0, result.stderr
    assert "resuming from" in result.stderr
    # It goes on where its partial file is, and says so when --dir names another folder.
    assert digest_of(files / "small-43.zip") == digest_of_remote(SMALL)
    said = f"#{item_id} goes on in {files}, where its partial file is" in result.stderr
    assert said is elsewhere, result.stderr


async def test_a_download_another_process_holds_is_left_to_it(
    env: dict[str, str], conf: str, emu: Emulator, files: Path
) -> None:
    (item_id,) = unlocked(env, conf, SMALL)
    emu.faults = Faults(dl_rate=1_000_000)
    data = Path(env["XDG_DATA_HOME"]) / "linkdeck"
    settings = load_settings(Path(conf), env={"LINKDECK_PASSWORD": PIN}).settings
    session = Session(Profile(settings, Path(conf), data, Path(env["XDG_CACHE_HOME"])))
    await session.open()
    try:
        session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
        while part_size(files) == 0:
            await asyncio.sleep(0.05)
        args = ("download", "--config", conf, "--json", str(item_id))
        result = await asyncio.to_thread(linkdeck, env, *args)
    finally:
        await session.close()
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["error"] == "downloaded by another linkdeck process"
    assert f"#{item_id} not downloaded: downloaded by another linkdeck process" in result.stderr


def test_dir_chooses_the_folder(env: dict[str, str], conf: str, tmp_path: Path) -> None:
    (item_id,) = unlocked(env, conf, SMALL)
    elsewhere = tmp_path / "elsewhere"
    result = linkdeck(env, "download", "--config", conf, "--dir", str(elsewhere), str(item_id))
    assert result.returncode == 0, result.stderr
    assert digest_of(elsewhere / "small-43.zip") == digest_of_remote(SMALL)


def test_a_failed_download_goes_where_dir_says_when_tried_again(
    env: dict[str, str], conf: str, tmp_path: Path
) -> None:
    (item_id,) = unlocked(env, conf, SMALL)
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    failed = linkdeck(env, "download", "--config", conf, "--dir", str(a_file), str(item_id))
    assert failed.returncode == 1
    assert f"{a_file} is not a folder" in failed.stderr + failed.stdout
    good = tmp_path / "good"
    again = linkdeck(env, "download", "--config", conf, "--dir", str(good), str(item_id))
    assert again.returncode == 0, again.stderr
    assert digest_of(good / "small-43.zip") == digest_of_remote(SMALL)


@pytest.mark.parametrize(
    "args",
    [[], ["--all-done", "3"], ["abc"], ["0"], ["--json"], ["9" * 23]],
    ids=["nothing", "both", "not-a-number", "zero", "only-json", "too-big"],
)
def test_usage_errors_exit_2(env: dict[str, str], conf: str, args: list[str]) -> None:
    result = linkdeck(env, "download", "--config", conf, *args)
    assert result.returncode == 2, result.stderr
    assert "usage: linkdeck download" in result.stderr


def test_unlock_download_unlocks_and_downloads_into_dir(
    env: dict[str, str], conf: str, tmp_path: Path
) -> None:
    into = tmp_path / "into"
    result = linkdeck(
        env, "unlock", "--config", conf, "--json", "--download", str(into), SMALL, MISSING
    )
    assert result.returncode == 1, result.stderr  # MISSING failed to unlock
    records = [json.loads(line) for line in result.stdout.splitlines()]
    unlocks = [r for r in records if "path" not in r]
    downloads = [r for r in records if "path" in r]
    assert sorted(r["state"] for r in unlocks) == ["done", "failed"]
    (download,) = downloads
    assert (download["link"], download["state"]) == (SMALL, "done")
    assert download["path"] == str(into / "small-43.zip")
    assert digest_of(into / "small-43.zip") == digest_of_remote(SMALL)


def test_unlock_download_without_dir_takes_a_link_as_a_link(
    env: dict[str, str], conf: str, files: Path
) -> None:
    result = linkdeck(env, "unlock", "--config", conf, "--download", SMALL)
    assert result.returncode == 0, result.stderr
    assert digest_of(files / "small-43.zip") == digest_of_remote(SMALL)
    assert any(line.startswith("done") and "#" in line for line in result.stdout.splitlines())


def test_unlock_with_auto_download_set_waits_for_the_files(
    env: dict[str, str], conf: str, files: Path
) -> None:
    with open(conf, "a") as config:
        config.write("auto = true\n")  # in [download]
    result = linkdeck(env, "unlock", "--config", conf, SMALL)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in files.iterdir()) == ["small-43.zip"]
    assert digest_of(files / "small-43.zip") == digest_of_remote(SMALL)


def test_unlock_download_reads_links_from_stdin(
    env: dict[str, str], conf: str, files: Path
) -> None:
    result = linkdeck(env, "unlock", "--config", conf, "--download", "-", stdin=SMALL + "\n")
    assert result.returncode == 0, result.stderr
    assert (files / "small-43.zip").exists()


@pytest.mark.parametrize(
    ("argv", "links", "folder"),
    [
        (["--download", SMALL], [SMALL], ""),
        (["--download", "-"], ["-"], ""),
        (["--download", "/tmp/x", SMALL], [SMALL], "/tmp/x"),
        ([SMALL, "--download"], [SMALL], ""),
        ([SMALL, "--download", "d"], [SMALL], "d"),
        ([SMALL], [SMALL], None),
    ],
)
def test_download_takes_a_dir_unless_it_looks_like_a_link(
    argv: list[str], links: list[str], folder: str | None
) -> None:
    args = parse(["unlock", *argv])
    assert (args.links, args.download) == (links, folder)


def test_unlock_download_with_no_link_is_a_usage_error(env: dict[str, str], conf: str) -> None:
    result = linkdeck(env, "unlock", "--config", conf, "--download", "/tmp/x")
    assert result.returncode == 2
    assert "the following arguments are required: LINK" in result.stderr


def test_ctrl_c_stops_and_the_next_run_resumes(
    env: dict[str, str], conf: str, emu: Emulator, files: Path
) -> None:
    (item_id,) = unlocked(env, conf, SMALL)
    emu.faults = Faults(dl_rate=2_000_000)
    run = started(env, "download", "--config", conf, "--json", str(item_id))
    wait_until(lambda: part_size(files) > 3_000_000)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=30)
    assert run.returncode == 130, err
    assert "Traceback" not in err
    kept = part_size(files)
    assert kept > 3_000_000, "what was written stays"
    (record,) = map(json.loads, out.splitlines())
    assert record["state"] == "downloading" and record["error"] == "stopped (Ctrl-C)"
    emu.faults = Faults()
    again = linkdeck(env, "download", "--config", conf, str(item_id))
    assert again.returncode == 0, again.stderr
    assert "resuming from" in again.stderr
    assert digest_of(files / "small-43.zip") == digest_of_remote(SMALL)
    assert sorted(p.name for p in files.iterdir()) == ["small-43.zip"]


def test_sigterm_stops_as_ctrl_c_does_and_the_next_run_resumes(
    env: dict[str, str], conf: str, emu: Emulator, files: Path
) -> None:
    # What `timeout`, `kill`, systemd and `docker stop` send.
    (item_id,) = unlocked(env, conf, SMALL)
    emu.faults = Faults(dl_rate=2_000_000)
    run = started(env, "download", "--config", conf, "--json", str(item_id))
    wait_until(lambda: part_size(files) > 3_000_000)
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=30)
    assert run.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    (record,) = map(json.loads, out.splitlines())
    assert record["state"] == "downloading" and record["error"] == "stopped (SIGTERM)"
    emu.faults = Faults()
    again = linkdeck(env, "download", "--config", conf, str(item_id))
    assert again.returncode == 0, again.stderr
    assert "resuming from" in again.stderr
    assert digest_of(files / "small-43.zip") == digest_of_remote(SMALL)


def test_sigkill_mid_download_then_download_again_resumes(
    env: dict[str, str], conf: str, emu: Emulator, files: Path
) -> None:
    (item_id,) = unlocked(env, conf, SMALL)
    emu.faults = Faults(dl_rate=2_000_000)
    run = started(env, "download", "--config", conf, str(item_id))
    # Past the record's first save with bytes (every 2 s).
    wait_until(lambda: part_size(files) > 6_000_000)
    run.kill()
    run.communicate(timeout=10)
    killed_at = part_size(files)
    # Slowly still, so the .part is seen growing from where it was.
    second = started(env, "download", "--config", conf, str(item_id))
    sizes = []
    while second.poll() is None:
        sizes.append(part_size(files))
        time.sleep(0.05)
    _out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    seen = [size for size in sizes if size]
    assert seen and min(seen) >= killed_at, (killed_at, seen[:5])
    assert "resuming from" in err
    assert digest_of(files / "small-43.zip") == digest_of_remote(SMALL)
    assert sorted(p.name for p in files.iterdir()) == ["small-43.zip"]


def test_a_terminal_shows_a_bar_per_file_redrawn_in_place(
    env: dict[str, str], conf: str, emu: Emulator, files: Path
) -> None:
    ids = unlocked(env, conf, SMALL, OTHER)
    emu.faults = Faults(dl_rate=8_000_000)
    args = ["download", "--debug", "--config", conf, *map(str, ids)]
    with PtyRun(args, env, size=(100, 30)) as run:
        run.wait_for(b"small-86.zip")
        assert run.wait_exit(60) == 0
    output = bytes(run.output).decode(errors="replace")
    assert "small-43.zip" in output and "small-86.zip" in output
    assert "%" in output and "MB/s" in output and "ETA" in output
    assert "\x1b[2F" in output  # back up over the two bars to redraw them
    assert "100%" in output
    assert not leaks(bytes(run.output))
    log = Path(env["XDG_STATE_HOME"]) / "linkdeck" / "linkdeck.log"
    assert log.stat().st_size and not leaks(log.read_bytes())


class FakeTerminal(io.StringIO):
    """stderr as a terminal of the default size (80x24: its size cannot be read)."""

    def isatty(self) -> bool:
        return True


def test_more_files_than_rows_are_summed_up_under_the_bars() -> None:
    terminal = FakeTerminal()
    progress = DownloadProgress(terminal)
    for item_id in range(1, 51):
        state = DownloadState.DONE if item_id <= 20 else DownloadState.QUEUED
        job = Download(item_id, state, f"http://h/dl/{item_id}/f{item_id}.bin", "/tmp", total=100)
        progress.follow(item_id, f"https://uploaded.net/file/{item_id}", job)
    progress.draw()
    lines = terminal.getvalue().splitlines()
    assert len(lines) == 23
    assert lines[-1].endswith("and 28 more: 8 queued, 20 done")
    progress.seen(Download(50, DownloadState.DOWNLOADING, "http://h/dl/50/f50.bin", "/tmp"))
    progress.draw()
    # Back up over the 23 lines drawn, and what downloads comes first.
    redrawn = terminal.getvalue()[len("\n".join(lines)) + 1 :]
    assert redrawn.startswith("\x1b[23F\x1b[Kf50.bin")


def test_a_dir_whose_name_is_not_utf8_is_used_and_shown_plain(
    env: dict[str, str], conf: str, tmp_path: Path
) -> None:
    (item_id,) = unlocked(env, conf, SMALL)
    folder = os.fsencode(tmp_path) + b"/not-utf8-\xff"
    result = subprocess.run(
        [sys.executable, "-m", "tui", "download", "--config", conf, "--dir", folder, str(item_id)],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    assert digest_of(Path(os.fsdecode(folder)) / "small-43.zip") == digest_of_remote(SMALL)


NOT_THE_FILE = b"another program's bytes"


def test_a_part_replaced_by_another_process_is_never_given_the_files_name(
    env: dict[str, str], conf: str, emu: Emulator, files: Path
) -> None:
    (item_id,) = unlocked(env, conf, SMALL)
    emu.faults = Faults(dl_rate=4_000_000)
    run = started(env, "download", "--config", conf, "--json", str(item_id))
    wait_until(lambda: part_size(files) > 3_000_000)
    (part,) = files.glob("*.part")
    elsewhere = files.parent / "other"
    elsewhere.write_bytes(NOT_THE_FILE)
    os.replace(elsewhere, part)
    out, err = run.communicate(timeout=60)
    (record,) = map(json.loads, out.splitlines())
    assert "Traceback" not in err
    # The file is downloaded afresh beside the other program's.
    assert record["state"] == "done", err
    assert digest_of(Path(record["path"])) == digest_of_remote(SMALL), record
    # The other program's file is left as it is, where it put it.
    assert part.read_bytes() == NOT_THE_FILE


def test_bars_on_a_terminal_that_does_not_say_its_size_show_the_files(
    env: dict[str, str], conf: str, emu: Emulator
) -> None:
    (item_id,) = unlocked(env, conf, SMALL)
    emu.faults = Faults(dl_rate=8_000_000)
    # A pty nobody sized says 0 columns and 0 lines (a serial console, a
    # container's terminal before its first resize).
    master, slave = pty.openpty()
    assert os.get_terminal_size(slave) == os.terminal_size((0, 0))
    run = subprocess.Popen(
        [sys.executable, "-m", "tui", "download", "--config", conf, str(item_id)],
        env={**env, "TERM": "xterm-256color"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    shown = bytearray()

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the program closed its end
                return
            if not data:
                return
            shown.extend(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    run.communicate(timeout=60)
    reader.join(10)
    os.close(master)
    assert run.returncode == 0, shown
    text = shown.decode(errors="replace")
    assert "small-43.zip" in text and "%" in text, text[:500]


@pytest.mark.parametrize("variable", ["LINKDECK_PASSWORD", "LINKDECK_LOGIN"])
def test_a_login_or_pin_that_is_not_utf8_is_said_so_not_unreachable(
    env: dict[str, str], conf: str, variable: str
) -> None:
    # A PIN typed in a Latin-1 terminal: its bytes are not UTF-8.
    odd = {**env, variable: os.fsdecode(b"7319Zq\xe9")}
    result = linkdeck(odd, "download", "--config", conf, "1")
    line = one_sentence(result, 2)
    assert variable in line and "UTF-8" in line, line
    assert "unreachable" not in line
