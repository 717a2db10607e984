"""Start the installed `linkdeck --demo` in a pseudo-terminal, wait for the
account to show, press q, and check it exits cleanly: proves the stylesheets
and the emulator ship in the wheel."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

DEADLINE_SECONDS = 30


def main(command: str) -> int:
    leader, follower = pty.openpty()
    os.set_blocking(leader, False)
    env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    process = subprocess.Popen(
        [command, "--demo"], stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        while b"111111111" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(leader, 65536)
                except OSError:
                    break
        if b"111111111" not in seen:
            print("the dashboard did not show the demo account", file=sys.stderr)
            return 1
        # Keep reading: a full pseudo-terminal would block the app's writes.
        # q again every few seconds, in case the first came before the keys were read.
        deadline = time.monotonic() + 15
        next_q = 0.0
        while process.poll() is None and time.monotonic() < deadline:
            if time.monotonic() >= next_q:
                os.write(leader, b"q")
                next_q = time.monotonic() + 3
            if select.select([leader], [], [], 0.2)[0]:
                try:
                    os.read(leader, 65536)
                except OSError:
                    break
        code = process.wait(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
    print(f"dashboard from the wheel: showed the account, exited {code}")
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
