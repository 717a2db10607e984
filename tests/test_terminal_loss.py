"""Losing the terminal: SIGTERM, SIGHUP, or the terminal going away while SIGHUP
is ignored (nohup, some supervisors).

The real program runs in a pseudo-terminal against the emulator with a link in
flight (the emulator then answers after two minutes). Each way out goes through
the dashboard's normal exit: the terminal is given back as it was (alternate
screen left, mouse reporting off, cursor shown) while there is one, the exit
status is 128 + the signal's number (a lost terminal counts as a hang-up), and
the link in flight is pending again in the history, for the next start. An
exit that cannot finish gives way to a second signal.

One measure: with SIGHUP ignored, the old dashboard never ended after its pty
closed, and its input thread spun at 100% of a core (read() returning 0 for
ever); a normal exit costs about 0.3 s of CPU."""

from __future__ import annotations

import os
import signal
import sqlite3
import termios
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from commandline import isolated_env
from ptyrun import PtyRun

from tui.emulator import Emulator

LOGIN, PIN = "111111111", "1111"
LINK = "https://uploaded.net/file/term0001/part1.rar"
IN_FLIGHT_MS = 120_000
HANGUP_EXIT = 128 + signal.SIGHUP
# Each mode the dashboard sets on start, and the sequence that resets it.
MODES = {
    "alternate screen": (b"\x1b[?1049h", b"\x1b[?1049l"),
    "mouse clicks": (b"\x1b[?1000h", b"\x1b[?1000l"),
    "mouse motion": (b"\x1b[?1003h", b"\x1b[?1003l"),
    "SGR mouse": (b"\x1b[?1006h", b"\x1b[?1006l"),
    "hidden cursor": (b"\x1b[?25l", b"\x1b[?25h"),
    "bracketed paste": (b"\x1b[?2004h", b"\x1b[?2004l"),
}


def history_of(tmp_path: Path) -> Path:
    return tmp_path / "xdg_data_home" / "linkdeck" / "history.sqlite3"


def state_of(history: Path, link: str) -> str | None:
    if not history.exists():
        return None
    with closing(sqlite3.connect(history)) as db:
        row = db.execute("SELECT state FROM items WHERE link = ?", (link,)).fetchone()
    return row[0] if row else None


def modes_left_set(output: bytes) -> list[str]:
    """The modes set on start that the end of `output` does not reset."""
    for name, (on, _) in MODES.items():
        assert on in output, f"the dashboard never set {name}"
    return [name for name, (on, off) in MODES.items() if output.rfind(off) < output.rfind(on)]


@contextmanager
def dashboard_unlocking(tmp_path: Path, *, ignore_hangup: bool = False) -> Iterator[PtyRun]:
    """The dashboard in a pty, LINK in flight; the emulator stops after the
    program has ended."""
    env = isolated_env(tmp_path, LINKDECK_PASSWORD=PIN)
    caches = tmp_path / "xdg_cache_home" / "linkdeck"
    history = history_of(tmp_path)
    with Emulator() as emulator:
        args = ["--api-url", emulator.url, "--login", LOGIN]
        with PtyRun(args, env, ignore_hangup=ignore_hangup) as run:
            # The hoster list has been answered: only the unlock meets the latency.
            run.wait_for(lambda _: any(caches.glob("hosters-*.json")), 20)
            emulator.faults.latency_ms = IN_FLIGHT_MS
            run.send("u")
            run.send(f"\x1b[200~{LINK}\x1b[201~")
            run.send("\r")
            run.wait_for(lambda _: state_of(history, LINK) == "unlocking", 20)
            yield run


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_restores_the_terminal_and_puts_the_link_back(
    tmp_path: Path, signum: signal.Signals
) -> None:
    with dashboard_unlocking(tmp_path) as run:
        assert run.proc is not None
        run.proc.send_signal(signum)
        code = run.wait_exit(10, f"linkdeck did not end on {signum.name}")
    left_set = modes_left_set(bytes(run.output))
    assert not left_set, f"the terminal was left with {left_set}"
    assert code == 128 + signum
    assert state_of(history_of(tmp_path), LINK) == "pending"


def test_the_two_hangups_of_a_closing_terminal_still_end_it_cleanly(tmp_path: Path) -> None:
    """A closing window or SSH session sends SIGHUP to the job twice within
    milliseconds (the kernel, and the shell passing its own on): that is one
    hang-up, not a stuck exit to force out of, so the link is saved as pending."""
    with dashboard_unlocking(tmp_path) as run:
        assert run.proc is not None
        run.proc.send_signal(signal.SIGHUP)
        time.sleep(0.2)  # the second comes once the first is handled: not merged with it
        run.proc.send_signal(signal.SIGHUP)
        code = run.wait_exit(10, "linkdeck did not end on SIGHUP")
    assert code == HANGUP_EXIT
    assert state_of(history_of(tmp_path), LINK) == "pending"


def cpu_seconds(pid: int) -> float:
    """User and system time of a live process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_lost_terminal_with_sighup_ignored_ends_the_dashboard_without_spinning(
    tmp_path: Path,
) -> None:
    """Closing the pty's master (a closed window, a dropped SSH link) sends no
    signal that counts here: the program must notice by itself, and must not
    burn CPU while it does. A spinning thread uses about the whole wall time."""
    with dashboard_unlocking(tmp_path, ignore_hangup=True) as run:
        assert run.proc is not None
        pid = run.proc.pid
        cpu_at_hang_up = cpu_seconds(pid)
        run.hang_up()
        started = time.monotonic()
        status = None
        while status is None and time.monotonic() - started < 10:
            # wait4 gives the child's CPU time up to its very end.
            reaped, raw_status, usage = os.wait4(pid, os.WNOHANG)
            if reaped:
                status = os.waitstatus_to_exitcode(raw_status)
                run.proc.returncode = status
                spent = usage.ru_utime + usage.ru_stime - cpu_at_hang_up
            else:
                spent = cpu_seconds(pid) - cpu_at_hang_up
                time.sleep(0.1)
        wall = time.monotonic() - started
        assert status is not None, f"still running {wall:.1f} s after, {spent:.1f} s of CPU"
    assert spent < 1.0 + 0.1 * wall, f"{spent:.2f} s of CPU in {wall:.2f} s"
    assert status == HANGUP_EXIT
    assert state_of(history_of(tmp_path), LINK) == "pending"


def test_a_second_signal_forces_out_of_an_exit_that_cannot_finish(tmp_path: Path) -> None:
    """The terminal takes no output (flow control stopped, as ^S does where it
    is obeyed), so the exit cannot write its last frames and waits for ever.
    SIGTERM every half second: the first starts the exit, the next one forces
    out, with the terminal's line settings (echo, line editing) put back."""
    # A forced exit leaves the demo's throw-away profile behind: inside tmp_path.
    with PtyRun(["--demo"], isolated_env(tmp_path, TMPDIR=str(tmp_path))) as run:
        assert run.proc is not None
        run.wait_for(b"111111111", 30)
        terminal = os.open(f"/proc/{run.proc.pid}/fd/0", os.O_RDWR | os.O_NOCTTY)
        try:
            termios.tcflow(terminal, termios.TCOOFF)
            deadline = time.monotonic() + 10
            while run.proc.poll() is None and time.monotonic() < deadline:
                run.proc.send_signal(signal.SIGTERM)
                run.read(0.5)
            local_modes = termios.tcgetattr(terminal)[3]
            termios.tcflow(terminal, termios.TCOON)
        finally:
            os.close(terminal)
        assert run.proc.poll() == 128 + signal.SIGTERM
    assert local_modes & termios.ECHO and local_modes & termios.ICANON


@pytest.mark.parametrize("redirect", ["stdin", "stderr"])
def test_the_dashboard_without_a_terminal_says_so_and_exits_2(
    redirect: str, tmp_path: Path
) -> None:
    """`linkdeck < /dev/null` (cron, a pipe) read end-of-file in a loop, a
    core burnt for good; with stderr in a file it drew the screen into it."""
    import subprocess
    import sys

    log = tmp_path / "stderr.txt"
    pty_terminal = PtyTerminal()
    with open(log, "wb") as err_file, pty_terminal as terminal:
        streams = {"stdin": terminal, "stdout": terminal, "stderr": terminal}
        streams[redirect] = subprocess.DEVNULL if redirect == "stdin" else err_file
        result = subprocess.run(
            [sys.executable, "-m", "tui", "--demo"],
            env=isolated_env(tmp_path),
            timeout=30,
            **streams,
        )
        assert result.returncode == 2
        said = log.read_text() if redirect == "stderr" else pty_terminal.read()
    assert "the dashboard needs a terminal" in said, said
    assert "\x1b[?1049h" not in said


class PtyTerminal:
    """The slave side of a fresh pty, as a file descriptor to hand a child."""

    def __enter__(self) -> int:
        import pty

        self.master, self.slave = pty.openpty()
        return self.slave

    def __exit__(self, *exc: object) -> None:
        os.close(self.slave)
        os.close(self.master)

    def read(self) -> str:
        import select

        data = b""
        while select.select([self.master], [], [], 0.2)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")
