"""Helpers of the HTTPS tests: `linkdeck emulator --tls` in a subprocess, the
emulator's CA in a file, and its count of refused handshakes."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

from commandline import isolated_env

from tui.emulator import Emulator

START_LINE = re.compile(
    rb"linkdeck emulator listening on (https://127\.0\.0\.1:\d+/pm-api/v1\.php)"
    rb" \(its CA certificate: (/\S+\.pem)\)\n"
)


class EmulatorProcess:
    """`linkdeck emulator --tls --port 0 ARGS` in a subprocess, read up to its
    start line; killed at the end of a `with` block if still running."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tui", "emulator", "--tls", "--port", "0", *args],
            env=isolated_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = START_LINE.fullmatch(line)
        assert found, (line, self.process.stderr.read() if self.process.poll() else b"")
        self.url = found[1].decode()
        self.ca_file = Path(found[2].decode())

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=10)
        assert not err, err
        return self.process.returncode

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def write_ca(emulator: Emulator, folder: Path) -> Path:
    """The emulator's CA certificate in a file of `folder`, for `ca_file`."""
    path = folder / f"ca-{emulator.port}.pem"
    path.write_bytes(emulator.ca_pem)
    return path


def refused_handshakes(emu: Emulator, expected: int) -> int:
    """The emulator's count of refused handshakes once it reaches `expected` (its
    thread counts after the client has given up), or after 5 seconds."""
    deadline = time.monotonic() + 5
    while emu.stats.refused_handshakes < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return emu.stats.refused_handshakes
