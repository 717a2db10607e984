"""Who holds a claim on an item of the shared history, and whether it still lives.

An owner is `machine/pid/start/token`: the machine says where the pid means a
process (this boot of this host, in this pid namespace), the start time tells a
reused pid from the process that held it, and the random token tells apart two
histories opened by one process, or a process that got the pid of an earlier
one when start times cannot be read.
"""

from __future__ import annotations

import os
import secrets
import socket
from functools import cache
from pathlib import Path


def new_owner() -> str:
    """A new owner id for this process."""
    pid = os.getpid()
    return f"{this_machine()}/{pid}/{_start_time(pid) or ''}/{secrets.token_hex(8)}"


def owner_gone(owner: str) -> bool:
    """True when `owner` was a process of this machine that has ended (its pid is
    free, a zombie, or now another process's). False when it lives, or when that
    cannot be told (another machine, an unreadable id): its lease decides then."""
    try:
        machine, pid_text, started, _token = owner.rsplit("/", 3)
        pid = int(pid_text)
    except ValueError:
        return False
    if machine != this_machine() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    except OSError:
        return False
    now_started = _start_time(pid)
    if now_started is None:
        return False
    return now_started == "zombie" or (started != "" and now_started != started)


@cache
def this_machine() -> str:
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    # No '/' in the parts: the id is split on it.
    return ":".join((socket.gethostname(), boot, namespace)).replace("/", "_")


def _start_time(pid: int) -> str | None:
    """When the process started, in clock ticks since boot; "zombie" for an ended
    process nobody has reaped yet; None where /proc cannot tell."""
    stat = _read(f"/proc/{pid}/stat")
    # The command name (field 2) may hold spaces and parentheses: split after it.
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 20:
        return None
    return "zombie" if fields[0] == "Z" else fields[19]


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""
