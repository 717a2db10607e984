"""Run the real `linkdeck` in a pseudo-terminal and keep every byte it writes.

Used by the untrusted-text and no-leaks tests: what reaches a terminal is what
the program wrote to the pty, escape sequences included.
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
import time
from collections.abc import Callable, Mapping, Sequence

# What `nohup` does before it runs a program: SIGHUP ignored, and so inherited
# ignored through exec.
IGNORING_HANGUP = (
    "import os, signal, sys; signal.signal(signal.SIGHUP, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, '-m', 'tui', *sys.argv[1:]])"
)


class PtyRun:
    """`with PtyRun(args, env, size=(120, 40)) as run: run.wait_for(b"..."); run.send("q")`.
    `run.output` holds every byte written so far. With `ignore_hangup`, the
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
        self.proc: subprocess.Popen[bytes] | None = None
        self.fd = -1

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
        return self

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
            self.read(0.05)
            os.close(self.fd)

    def hang_up(self) -> None:
        """Close the terminal's side of the pty, as a closed window or a dropped
        SSH connection does: the program's terminal is gone."""
        os.close(self.fd)
        self.fd = -1

    def read(self, seconds: float) -> None:
        """Read whatever arrives within `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(left, 0))
            if not ready:
                if left <= 0:
                    return
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # the child closed the terminal
                return
            if not chunk:
                return
            self.output += chunk

    def wait_for(self, condition: bytes | Callable[[bytes], bool], timeout: float = 15.0) -> None:
        check = (lambda out: condition in out) if isinstance(condition, bytes) else condition
        deadline = time.monotonic() + timeout
        while not check(bytes(self.output)):
            if time.monotonic() > deadline:
                tail = bytes(self.output[-2000:])
                raise AssertionError(f"timed out waiting for {condition!r}; last output {tail!r}")
            self.read(0.1)

    def send(self, text: str, pause: float = 0.15) -> None:
        os.write(self.fd, text.encode())
        self.read(pause)

    def quit(self, timeout: float = 10.0) -> int:
        """Press q and wait for the program to end; returns its exit code."""
        self.send("q")
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
