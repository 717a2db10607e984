"""Run the real `linkdeck` in a pseudo-terminal and keep every byte it writes.

Used by the untrusted-text and no-leaks tests: what reaches a terminal is what
the program wrote to the pty, escape sequences included. A thread reads the
pty all the time, as a terminal does: a pty nobody reads fills up after a few
kilobytes, and the program then blocks on its next write (its event loop too).
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import pyte

# What `nohup` does before it runs a program: SIGHUP ignored, and so inherited
# ignored through exec.
IGNORING_HANGUP = (
    "import os, signal, sys; signal.signal(signal.SIGHUP, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, '-m', 'tui', *sys.argv[1:]])"
)

# The dashboard's footer, as it starts when no input or other screen has focus.
DASHBOARD_FOOTER = " ? Help "


class PtyRun:
    """`with PtyRun(args, env, size=(120, 40)) as run: run.wait_for(b"..."); run.send("q")`.
    `run.output` holds every byte written so far; `run.screen()` is what a
    terminal shows of them. With `ignore_hangup`, the
    program starts with SIGHUP ignored, as under nohup."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        size: tuple[int, int] = (120, 40),
        *,
        ignore_hangup: bool = False,
    ) -> None:
        self.args, self.env, self.size = list(args), dict(env), size
        self.launcher = ["-c", IGNORING_HANGUP] if ignore_hangup else ["-m", "tui"]
        self.output = bytearray()
        self._screen = pyte.Screen(*size)
        self._terminal = pyte.ByteStream(self._screen)
        self._shown = 0  # bytes of output the screen has been fed
        self.proc: subprocess.Popen[bytes] | None = None
        self.fd = -1
        self._reader: threading.Thread | None = None
        self._stop_reading, self._stop_writing = -1, -1

    def __enter__(self) -> PtyRun:
        master, slave = pty.openpty()
        width, height = self.size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        env = {**self.env, "TERM": "xterm-256color", "COLUMNS": str(width), "LINES": str(height)}
        self.proc = subprocess.Popen(
            [sys.executable, *self.launcher, *self.args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.fd = master
        self._stop_reading, self._stop_writing = os.pipe()
        self._reader = threading.Thread(target=self._drain, name="pty-reader", daemon=True)
        self._reader.start()
        return self

    def _drain(self) -> None:
        while True:
            ready, _, _ = select.select([self.fd, self._stop_reading], [], [])
            if self.fd in ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if chunk:
                    self.output += chunk
                    continue
                if self._stop_reading not in ready:
                    # End of output: wait to be told to stop (the fd is still ours).
                    select.select([self._stop_reading], [], [])
            return

    def _stop_drain(self) -> None:
        """Read what is left, then stop the reader (before the master is closed)."""
        if self._reader is None:
            return
        time.sleep(0.05)
        os.write(self._stop_writing, b"x")
        self._reader.join(5)
        self._reader = None
        os.close(self._stop_reading)
        os.close(self._stop_writing)

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.fd >= 0:
            self._stop_drain()
            os.close(self.fd)

    def hang_up(self) -> None:
        """Close the terminal's side of the pty, as a closed window or a dropped
        SSH connection does: the program's terminal is gone."""
        self._stop_drain()
        os.close(self.fd)
        self.fd = -1

    def read(self, seconds: float) -> None:
        """Let `seconds` pass while what the program writes is read."""
        time.sleep(seconds)

    def wait_for(self, condition: bytes | Callable[[bytes], bool], timeout: float = 15.0) -> None:
        check = (lambda out: condition in out) if isinstance(condition, bytes) else condition
        deadline = time.monotonic() + timeout
        while not check(bytes(self.output)):
            if time.monotonic() > deadline:
                tail = bytes(self.output[-2000:])
                raise AssertionError(f"timed out waiting for {condition!r}; last output {tail!r}")
            self.read(0.1)

    def screen(self) -> list[str]:
        """The terminal's rows as a user sees them now."""
        fresh = bytes(self.output[self._shown :])
        self._shown += len(fresh)
        self._terminal.feed(fresh)
        return list(self._screen.display)

    def wait_for_screen(
        self, condition: Callable[[list[str]], bool], timeout: float = 15.0
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self.screen()):
            if time.monotonic() > deadline:
                shown = "\n".join(self.screen())
                raise AssertionError(f"timed out waiting for the screen; it shows\n{shown}")
            self.read(0.1)

    def back_to_dashboard(self, timeout: float = 15.0) -> None:
        """Press escape (out of an input or a screen on top) and wait until the
        dashboard's keys are in the footer. Keys go to the focused widget as the
        app receives them: one typed before the escape is handled would land
        in the input or screen the escape leaves."""
        self.send("\x1b")
        self.wait_for_screen(lambda rows: rows[-1].startswith(DASHBOARD_FOOTER), timeout)

    def send(self, text: str, pause: float = 0.15) -> None:
        os.write(self.fd, text.encode())
        self.read(pause)

    def quit(self, timeout: float = 10.0) -> int:
        """Press q (and y when links are in the queue or files download:
        linkdeck asks then) and wait for the program to end; returns its exit
        code. The question is found on the screen: a long one wraps."""
        self.send("q")

        def asked(rows: list[str]) -> bool:
            return any("Quit?" in row for row in rows)

        def ended_or_asked(rows: list[str]) -> bool:
            return (self.proc is not None and self.proc.poll() is not None) or asked(rows)

        self.wait_for_screen(ended_or_asked, timeout)
        if asked(self.screen()):
            self.send("y")
        return self.wait_exit(timeout, "linkdeck did not quit")

    def wait_exit(self, timeout: float = 10.0, failure: str = "linkdeck did not end") -> int:
        """Read on until the program ends; returns its exit code."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read(0.1)
        self.read(0.1)
        assert self.proc.poll() is not None, failure
        return self.proc.returncode
