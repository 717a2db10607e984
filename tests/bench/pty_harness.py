"""Run a real program in a 120x40 pseudo-terminal and watch what it writes.

Only byte counts and substring detection: the output is never parsed as a
screen. A reader thread drains the terminal (a full pty would block the
program), timestamps every chunk and keeps the bytes so tests can wait for a
text to appear. CPU time and memory come from /proc.

    with PtyProcess([sys.executable, "app.py"], env=bench_env(tmp)) as proc:
        proc.wait_for(b"ready")
        mark = proc.mark()
        proc.send("?")
        proc.wait_for(b"Help", since=mark)
        proc.bytes_since(mark), proc.cpu_seconds(), proc.memory()
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

COLUMNS, ROWS = 120, 40
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = 1024
ESCAPE = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Z]|.)")
TRACEBACK_LINE = re.compile(r"\.py:\d+ in |Error|Exception|❱")


def bench_env(root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a program under test: a 256-colour xterm and XDG
    directories inside `root`, so nothing touches the user's profile."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("XDG_", "LINKDECK_", "TEXTUAL", "PYTEST", "COLUMNS", "LINES"))
    }
    for name in ("CONFIG", "DATA", "CACHE", "STATE", "RUNTIME"):
        path = root / name.lower()
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        env[f"XDG_{name}_HOME" if name != "RUNTIME" else "XDG_RUNTIME_DIR"] = str(path)
    env["TERM"] = "xterm-256color"
    env["COLORTERM"] = "truecolor"
    env["LANG"] = env.get("LANG") or "C.UTF-8"
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Memory:
    rss_mb: float
    peak_mb: float


class Timeout(AssertionError):
    pass


class PtyProcess:
    """A program with a pseudo-terminal of COLUMNS x ROWS as its stdin, stdout and stderr."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        columns: int = COLUMNS,
        rows: int = ROWS,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env or os.environ)
        self.cwd = cwd
        self.columns, self.rows = columns, rows
        self.started_at = 0.0
        self._buffer = bytearray()
        self._chunks: list[tuple[float, int]] = []  # (time, total bytes after the chunk)
        self._base = 0  # bytes dropped from the front of _buffer by forget()
        self._lock = threading.Condition()
        self._closed = False
        self.process: subprocess.Popen[bytes] | None = None

    # --- life ---------------------------------------------------------------

    def start(self) -> PtyProcess:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.rows, self.columns, 0, 0))
        self._master = master
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            self.argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, name="pty-reader", daemon=True)
        self._reader.start()
        return self

    def __enter__(self) -> PtyProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, quit_keys: str = "\x11", timeout: float = 3.0) -> int | None:
        """Ask the program to quit with `quit_keys` (ctrl+q), then terminate, then kill."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            try:
                self.send(quit_keys)
                self.process.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    if self.process.poll() is not None:
                        break
                    self.process.send_signal(sig)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.process.wait(timeout)
        self._closed = True
        self._reader.join(timeout=2)
        with contextlib.suppress(OSError):
            os.close(self._master)
        return self.process.returncode

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO once the program closed its side
                data = b""
            now = time.perf_counter()
            with self._lock:
                if not data:
                    self._closed = True
                    self._lock.notify_all()
                    return
                self._buffer += data
                self._chunks.append((now, self.total))
                self._lock.notify_all()

    # --- output ---------------------------------------------------------------

    @property
    def total(self) -> int:
        """Bytes written since the start."""
        return self._base + len(self._buffer)

    def mark(self) -> int:
        """A position in the output, for bytes_since() and wait_for(since=...)."""
        with self._lock:
            return self.total

    def bytes_since(self, mark: int) -> int:
        return self.mark() - mark

    def forget(self) -> None:
        """Drop the kept bytes (counts go on): for long runs."""
        with self._lock:
            self._base += len(self._buffer)
            self._buffer.clear()
            self._chunks.clear()

    def text_since(self, mark: int) -> bytes:
        with self._lock:
            return bytes(self._buffer[max(mark - self._base, 0) :])

    def wait_for(self, *texts: bytes, since: int = 0, timeout: float = 15.0) -> float:
        """Wait until every text has appeared in the output after `since`;
        returns the time (perf_counter) of the chunk that completed them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                start = max(since - self._base, 0)
                if all(self._buffer.find(t, start) >= 0 for t in texts):
                    return self._chunks[-1][0] if self._chunks else time.perf_counter()
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    why = f"exit {self.poll()}: {self.last_error()}"
                    raise Timeout(f"{texts!r} did not appear; {why}")
                self._lock.wait(min(left, 0.5))

    def last_error(self) -> str:
        """The lines of a traceback the program printed, if any, else its last text."""
        with self._lock:
            text = ESCAPE.sub(b"", bytes(self._buffer[-200_000:])).decode(errors="replace")
        lines = [line.strip(" │╭╮╰╯─") for line in text.splitlines()]
        found = [line for line in lines if TRACEBACK_LINE.search(line)]
        return " / ".join(found[-8:]) if found else " ".join(text.split())[-300:]

    def wait_quiet(self, quiet: float = 1.0, timeout: float = 15.0) -> int:
        """Wait until nothing has been written for `quiet` seconds; returns the mark."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                last = self._chunks[-1][0] if self._chunks else self.started_at
            idle = time.perf_counter() - last
            if idle >= quiet:
                return self.mark()
            time.sleep(min(quiet - idle, 0.1) + 0.01)
        raise Timeout(f"the program kept writing for {timeout} s")

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    # --- input ----------------------------------------------------------------

    def send(self, data: str | bytes) -> float:
        """Write keys to the program; returns when they were sent (perf_counter)."""
        raw = data.encode() if isinstance(data, str) else data
        view = memoryview(raw)
        while view:
            written = os.write(self._master, view)
            view = view[written:]
        return time.perf_counter()

    def paste(self, text: str) -> float:
        """A bracketed paste, as a terminal sends it (Textual enables mode 2004)."""
        return self.send("\x1b[200~" + text + "\x1b[201~")

    def mouse_move(self, x: int, y: int) -> float:
        """An SGR motion report with no button held (modes 1003 + 1006), 0-based cell."""
        return self.send(f"\x1b[<35;{x + 1};{y + 1}M")

    # --- /proc ----------------------------------------------------------------

    def cpu_seconds(self) -> float:
        """User + system CPU time of the program so far."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        # Fields 14 and 15 of stat(5); fields[0] is field 3 (state).
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def memory(self) -> Memory:
        """Resident set size now and at its peak (VmHWM)."""
        values: dict[str, float] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / PAGE_KB
        return Memory(values["VmRSS"], values["VmHWM"])
