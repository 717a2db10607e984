"""The dashboard's ways out when its terminal is going or gone.

SIGTERM and SIGHUP end the dashboard through Textual's own exit: the terminal
is given back (alternate screen left, mouse reporting off, cursor shown), then
the app unmounts and the unlock engine stops, which puts links in flight back
to pending. The exit status is 128 + the signal's number, what a shell shows
for a process the signal killed. A second signal forces out at once: the
terminal modes are reset by hand, and links in flight stay "unlocking" for the
next start to take back, as after a crash.

With SIGHUP ignored (nohup, some supervisors) nothing tells the dashboard that
its terminal went away, and Textual's input thread then reads end-of-file in a
loop, a core burnt for good. A watcher thread sleeps until the terminal's
descriptors hang up or fail (looking again once a second) and ends the
dashboard as a hang-up would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import sys
import termios
import threading
import time
from types import FrameType, TracebackType
from typing import Any

from textual.app import App

EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
HANGUP_EXIT = 128 + signal.SIGHUP
LOST = select.POLLHUP | select.POLLERR | select.POLLNVAL
# Textual draws on stderr and reads stdin.
INPUT, OUTPUT = 0, 2
# What Textual writes when it leaves application mode, for a forced exit that
# cannot wait for it: mouse reporting off, bracketed paste off, line wrap on,
# the keyboard protocol popped, the main screen back, cursor shown, focus
# reports off.
RESET_MODES = (
    b"\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?7h"
    b"\x1b[<u\x1b[?1049l\x1b[?25h\x1b[?1004l"
)
# The terminal's other side closing (a window, sshd, tmux closing a pty) wakes
# the watcher at once. A hang-up of another kind only wakes readers, and the
# watcher reads nothing: it looks again every second.
LOOK_AGAIN_MS = 1000
FORCE_AFTER_SECONDS = 1.0
"""A signal this long after the first forces out: the normal exit is stuck."""


def run_in_terminal(app: App[Any], *, mouse: bool) -> None:
    """`app.run(mouse=mouse)`, ended cleanly by SIGTERM, SIGHUP or a lost terminal."""

    async def run() -> None:
        with TerminalExits(app, asyncio.get_running_loop()):
            await app.run_async(mouse=mouse)

    asyncio.run(run())


class TerminalExits:
    """While entered: SIGTERM and SIGHUP (unless ignored when the program
    started) and a lost terminal make `app` exit; a second signal forces out."""

    def __init__(self, app: App[Any], loop: asyncio.AbstractEventLoop) -> None:
        self._app, self._loop = app, loop
        self._signalled_at: float | None = None
        self._previous: dict[int, Any] = {}
        self._saved_mode = terminal_mode(INPUT)

    def __enter__(self) -> TerminalExits:
        self._stop_reading, self._stop_writing = os.pipe()
        self._watcher = threading.Thread(target=self._watch, name="terminal-watch", daemon=True)
        for signum in EXIT_SIGNALS:
            previous = signal.getsignal(signum)
            if previous is signal.SIG_IGN:
                continue  # as nohup asked; the watcher still sees the terminal go
            self._previous[signum] = previous
            signal.signal(signum, self._on_signal)
        self._watcher.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Once a signal began the exit, more of them (a closing terminal sends
        # several) must not kill the rest of it: the history is being saved.
        exiting = self._signalled_at is not None
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_IGN if exiting else previous)
        os.close(self._stop_writing)  # the watcher sees the pipe hang up and ends
        self._watcher.join()
        os.close(self._stop_reading)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._signalled_at is not None:
            # A closing terminal sends SIGHUP twice within milliseconds (the
            # shell passes its own on): only a later one means the exit is stuck.
            if time.monotonic() - self._signalled_at >= FORCE_AFTER_SECONDS:
                self._force_out(signum)
            return
        self._signalled_at = time.monotonic()
        # A Python handler runs between two bytecodes, maybe inside the loop's
        # own code: the exit is only scheduled, as from another thread. Not
        # loop.add_signal_handler: its handlers run on the loop, and a loop
        # stuck in a write to a terminal that reads nothing would never let a
        # second signal force out.
        self._loop.call_soon_threadsafe(self._exit, 128 + signum)

    def _exit(self, code: int) -> None:
        if self._app.return_code is None:  # the first way out gives the status
            self._app.exit(return_code=code)

    def _force_out(self, signum: int) -> None:
        with contextlib.suppress(OSError):
            os.set_blocking(OUTPUT, False)  # a terminal that reads nothing must not hold us
            try:
                os.write(OUTPUT, RESET_MODES)
            finally:
                # The shell shares this open file: it must get it back blocking.
                os.set_blocking(OUTPUT, True)
        if self._saved_mode is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(INPUT, termios.TCSANOW, self._saved_mode)
        os._exit(128 + signum)

    def _watch(self) -> None:
        poller = select.poll()
        for fd in (INPUT, OUTPUT):
            poller.register(fd, 0)  # no events asked: only hang-up and errors come
        poller.register(self._stop_reading, select.POLLIN)
        while True:
            ready = dict(poller.poll(LOOK_AGAIN_MS))
            if self._stop_reading in ready:
                return
            if any(flags & LOST for flags in ready.values()):
                self._terminal_lost()
                return

    def _terminal_lost(self) -> None:
        # Textual goes on writing until it has exited. Onto a lost terminal a
        # write fails (EIO, EPIPE) and Textual's writer thread dies of it; its
        # queue holds 30 writes, and the next one would block the UI loop for
        # good, exit included. /dev/null takes what is written instead.
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            for fd in (sys.__stdout__, sys.__stderr__):
                if fd is not None and is_lost(fd.fileno()):
                    os.dup2(null, fd.fileno())
        finally:
            os.close(null)
        self._loop.call_soon_threadsafe(self._exit, HANGUP_EXIT)


def terminal_mode(fd: int) -> list[Any] | None:
    """The terminal's settings, to put back on a forced exit; None for no terminal."""
    try:
        return termios.tcgetattr(fd)
    except termios.error:
        return None


def is_lost(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, 0)
    return any(flags & LOST for _, flags in poller.poll(0))
