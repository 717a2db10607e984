"""A real aria2c with its JSON-RPC on a free port of loopback, started by a
test and ended with it, and raw calls to it (what linkdeck's client does not
ask, such as a download's options).

aria2c comes from the Debian package `aria2`, which .ci/run installs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tui.secret import Secret

ARIA2C = shutil.which("aria2c")
needs_aria2c = pytest.mark.skipif(
    ARIA2C is None, reason="aria2c is not installed (Debian package aria2; .ci/run installs it)"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Aria2:
    url: str
    secret: Secret
    folder: Path
    """aria2c's own --dir (linkdeck always names another)."""

    def call(self, method: str, *params: object) -> object:
        """aria2's result of `method`; AssertionError for an error answer."""
        body = {
            "jsonrpc": "2.0",
            "id": "t",
            "method": method,
            "params": [f"token:{self.secret.reveal()}", *params],
        }
        answer = httpx.post(self.url, content=json.dumps(body), timeout=10).json()
        assert "result" in answer, answer
        return answer["result"]

    def downloads(self) -> list[dict[str, str]]:
        """Every download aria2 knows: active, waiting (and paused), stopped."""
        keys = ["gid", "status"]
        return [
            *self.call("aria2.tellActive", keys),  # type: ignore[misc]
            *self.call("aria2.tellWaiting", 0, 100, keys),  # type: ignore[misc]
            *self.call("aria2.tellStopped", 0, 100, keys),  # type: ignore[misc]
        ]


def start_aria2c(folder: Path, secret: str) -> tuple[subprocess.Popen[bytes], int]:
    """aria2c listening on a free port of loopback, and that port; tried again
    on another port when one freed for it was taken meanwhile (tests run in parallel)."""
    assert ARIA2C is not None
    for _ in range(3):
        port = free_port()
        process = subprocess.Popen(
            [
                ARIA2C,
                "--enable-rpc",
                "--rpc-listen-all=false",
                f"--rpc-listen-port={port}",
                f"--rpc-secret={secret}",
                f"--dir={folder}",
                f"--stop-with-process={os.getpid()}",  # even if pytest is killed
                "--no-conf",
                "--quiet",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        ready_by = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < ready_by:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                time.sleep(0.05)
                continue
            if process.poll() is None:  # it is aria2c that listens, not another
                return process, port
        process.kill()
        process.wait(5)
    pytest.fail("aria2c did not start listening")


@contextmanager
def running_aria2c(folder: Path, secret: str) -> Iterator[Aria2]:
    """aria2c while the block runs (skips the test without it)."""
    if ARIA2C is None:
        pytest.skip("aria2c is not installed (Debian package aria2; .ci/run installs it)")
    folder.mkdir(parents=True, exist_ok=True)
    process, port = start_aria2c(folder, secret)
    try:
        yield Aria2(f"http://127.0.0.1:{port}/jsonrpc", Secret(secret), folder)
    finally:
        process.terminate()
        process.wait(5)
