"""A history write that fails loses nothing and stops nothing.

The data directory is a small tmpfs of the test's own, filled up in the middle
of a batch (skipped where mounting is not allowed). `linkdeck unlock` must
print every answer it got, say in one sentence that the history could not be
written, exit 2 and never hang; no link is sent twice because of it. The
dashboard must keep running, show "not saved" on the item and in the status
line, keep the answer, and write it once the disk has room again.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from commandline import isolated_env
from ptyrun import PtyRun

from tui.emulator import Emulator

LINKS = [f"https://uploaded.net/file/full{n:04d}/part{n}.rar" for n in range(16)]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs at tmp_path/disk, unmounted at the end."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to make room)."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as fp:
        try:
            while True:
                fp.write(chunk)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    # Smaller writes too, so not even a page is left.
    with open(filler, "ab", buffering=0) as fp:
        try:
            while True:
                fp.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def wait_until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def environment(tmp_path: Path, small_disk: Path) -> Iterator[tuple[Emulator, dict[str, str]]]:
    with Emulator() as emulator:
        emulator.faults.latency_ms = 150
        env = isolated_env(tmp_path, XDG_DATA_HOME=str(small_disk / "data"))
        config = Path(env["XDG_CONFIG_HOME"]) / "linkdeck" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text(
            f'[api]\nurl = "{emulator.url}"\nlogin = "111111111"\npassword = "1111"\n'
            "[unlock]\nconcurrency = 2\n"
        )
        config.chmod(0o600)
        yield emulator, env


def test_unlock_on_a_disk_that_fills_prints_every_answer_and_exits_2(
    environment: tuple[Emulator, dict[str, str]], small_disk: Path
) -> None:
    emulator, env = environment
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "unlock", "--json", *LINKS],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: len(emulator.stats.requested_links) >= 3, 30, "three answers")
        fill(small_disk)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    stderr = err.decode()
    assert proc.returncode == 2, (proc.returncode, stderr)
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("linkdeck: "), stderr
    assert "history" in lines[0] and "could not be written" in lines[0], lines[0]
    assert "the disk is full" in lines[0], lines[0]

    records = [json.loads(line) for line in out.decode().splitlines()]
    requested = Counter(emulator.stats.requested_links)
    assert max(requested.values()) == 1, requested  # nothing sent twice
    printed = {record["link"]: record for record in records}
    assert len(records) == len(printed) == len(LINKS), records  # every link once
    for link in requested:  # every answer the service gave is printed with its result
        assert printed[link]["state"] == "done" and printed[link]["location"], printed[link]


def test_the_dashboard_survives_a_full_disk_and_saves_once_there_is_room(
    environment: tuple[Emulator, dict[str, str]], small_disk: Path
) -> None:
    emulator, env = environment
    history_path = small_disk / "data" / "linkdeck" / "history.sqlite3"
    with PtyRun([], env) as run:
        run.wait_for(b"refreshed", 30)
        run.send("u")
        run.send("\x1b[200~" + "\n".join(LINKS[:8]) + "\x1b[201~")
        run.send("\r")
        wait_until(lambda: len(emulator.stats.requested_links) >= 2, 30, "two answers")
        filler = fill(small_disk)
        # Answers that come now cannot be written; links not yet claimed on disk
        # wait (a claim that is not on disk is no claim), and the app runs on.
        run.wait_for(b"not saved", 30)
        assert run.proc is not None and run.proc.poll() is None, bytes(run.output[-3000:])
        filler.unlink()  # room again: what was kept is written, the rest is sent
        wait_until(lambda: len(emulator.stats.requested_links) >= 8, 60, "every answer")
        run.read(3.0)
        assert run.proc.poll() is None
        run.back_to_dashboard()  # out of the links box
        assert run.quit() == 0
    requested = Counter(emulator.stats.requested_links)
    assert max(requested.values()) == 1, requested
    import sqlite3

    with sqlite3.connect(history_path) as db:
        rows = dict(db.execute("SELECT link, state FROM items"))
    assert set(rows) == set(LINKS[:8]), rows
    assert set(rows.values()) == {"done"}, rows
    assert os.path.exists(history_path)
