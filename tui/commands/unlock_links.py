"""`linkdeck unlock`: turn links into direct links from a script, sharing the dashboard's history.

Each link is printed once, when it ends (done, failed, unsupported); links still
waiting for a retry when the command returns are printed last with their state.

A link another linkdeck process (a dashboard, another run) has queued already
is not sent again: the command says so on stderr, waits for that process's
result as for its own links, and counts it in the exit status. If that process
ends without finishing it, the link is taken back and sent from here.

With --download (or `[download] auto`), each link's file is downloaded as
soon as it is unlocked, and the command waits for the files too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable, Iterable
from typing import TextIO

from tui.commands.common import ExitCode, run_command
from tui.commands.download_items import downloading_into
from tui.commands.download_progress import DownloadProgress
from tui.commands.file_downloads import (
    STOPPED_BY,
    DownloadAsUnlocked,
    print_results,
    results,
    until_done_or_interrupted,
)
from tui.core import Profile, Session
from tui.core.events import Event
from tui.core.log_file import LogFile
from tui.unlock import (
    UNFINISHED,
    Clock,
    Item,
    ItemState,
    UnlockEngine,
)
from tui.unlock.extract import PastedText, read_pasted
from tui.unlock.history import unreadable_sentence
from tui.unlock.policy import LOGIN_FAILED
from tui.untrusted import plain

_ENDED = frozenset({ItemState.DONE, ItemState.FAILED, ItemState.UNSUPPORTED, ItemState.CANCELLED})


def main_unlock(args: argparse.Namespace) -> int:
    return run_command(args, lambda profile, log: run_unlock(args, profile, log_file=log))


async def run_unlock(
    args: argparse.Namespace,
    profile: Profile,
    *,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    clock: Clock | None = None,
    log_file: LogFile | None = None,
) -> ExitCode:
    stdin, out, err = stdin or sys.stdin, out or sys.stdout, err or sys.stderr
    try:
        text = "\n".join(read_stdin(stdin) if link == "-" else utf8(link) for link in args.links)
    except NotText as error:
        print(f"linkdeck: {error}", file=err)
        return ExitCode.USAGE
    pasted = read_pasted(text)
    if not pasted.links:
        print("linkdeck: no http(s) link given", file=err)
        return ExitCode.USAGE
    say_what_was_left_out(pasted, err)
    # `[download] auto` starts each file as its link is unlocked: waited for
    # here as with --download, not left half-way when the command ends.
    folder = "" if args.download is None and profile.settings.download.auto else args.download
    session = Session(downloading_into(profile, folder), clock=clock, log_file=log_file)
    progress = DownloadProgress(err)
    printer = Printer(out, args.json, before=progress.clear)
    session.subscribe(printer.on_event)
    files = DownloadAsUnlocked(session, progress) if folder is not None else None
    if files is not None:
        session.subscribe(progress.on_event)
        session.subscribe(files.on_event)
    interrupted: signal.Signals | None = None
    try:
        # Checks the login too (the hoster list): a wrong PIN ends here with exit code 3.
        engine = await session.start_command(retry_temporary=not args.no_retry)
        queued = await engine.queue(text)
        if queued.error is not None and not queued.added:
            raise queued.error  # nothing was queued
        # This engine follows only its links: those it added, those queued elsewhere.
        ids = list(engine.items)
        elsewhere = sum(engine.held_elsewhere(item) for item in engine.items.values())
        if elsewhere:
            print(
                f"linkdeck: {elsewhere} of the links are already queued by another"
                " linkdeck process; waiting for its results",
                file=err,
                flush=True,
            )
        if files is None:
            await wait_for_links(engine, args.wait, err)
        else:
            files.follow(engine.items.values())
            interrupted = await until_done_or_interrupted(
                unlock_then_download(engine, args.wait, files, progress)
            )
    finally:
        await session.close()
    assert session.history is not None
    history = session.history
    final = [engine.items[item_id] for item_id in ids if item_id in engine.items]
    unreadable = len(history.unreadable_ids)
    printer.print_rest(final)
    downloaded = True
    if files is not None:
        ended = results(session, progress, files.refused, interrupted=interrupted)
        downloaded = print_results(ended, out, err, as_json=args.json)
        if interrupted:
            return STOPPED_BY[interrupted][1]
    mine = [item for item in final if not engine.held_elsewhere(item)]
    left = sum(item.state in (ItemState.WAITING, ItemState.HELD) for item in mine)
    if left and not engine.pause_reason:
        print(
            f"linkdeck: {left} link(s) wait for a retry and stay queued: the dashboard, or"
            " linkdeck unlock given them again, sends them when it is time (--wait waits here)",
            file=err,
        )
    if unreadable:
        print(f"linkdeck: warning: {unreadable_sentence(unreadable)}", file=err)
    if engine.pause_reason:
        print(f"linkdeck: unlocking paused: {engine.pause_reason}", file=err)
    stalled = [reason for item in final if (reason := engine.paused_elsewhere(item))]
    if stalled:
        print(
            f"linkdeck: {len(stalled)} link(s) wait in the queue of another linkdeck process,"
            f" which is paused ({plain(stalled[0], 80)})",
            file=err,
        )
    if queued.rest:
        print(
            f"linkdeck: {len(queued.rest)} of the {queued.links} links were not queued:"
            f" the unlock history could not be written ({queued.error})",
            file=err,
        )
        return ExitCode.USAGE
    if engine.write_error is not None:
        # Every answer that came is printed above; the history lacks some of them.
        unsaved = sum(1 for item in final if item.not_saved)
        unsent = sum(1 for item in final if item.state in UNFINISHED and not item.attempts)
        print(
            f"linkdeck: the unlock history could not be written ({engine.write_error}):"
            f" {unsaved} answer(s) printed here are not saved in {history.path},"
            f" and {unsent} link(s) were not sent",
            file=err,
        )
        return ExitCode.USAGE
    if len(final) < len(ids):
        removed = len(ids) - len(final)
        print(f"linkdeck: {removed} link(s) were removed from the history meanwhile", file=err)
        return ExitCode.FAILED
    code = exit_code(final, engine.pause_reason)
    if not downloaded:
        code = max(code, ExitCode.FAILED)
    # Input that was no link is a failure too: a script must not take it for done.
    return max(code, ExitCode.FAILED) if pasted.not_links else code


async def wait_for_links(engine: UnlockEngine, retries: bool, err: TextIO) -> None:
    """Until every link has ended (with `retries`, those waiting for one too)."""
    if retries:
        await wait_with_countdown(engine, err)
    else:
        await engine.wait_idle()


async def unlock_then_download(
    engine: UnlockEngine, retries: bool, files: DownloadAsUnlocked, progress: DownloadProgress
) -> None:
    """`--download`: until every link has ended and every file too, the bars
    of a terminal drawn meanwhile (its retry countdown would mix with them)."""
    redraw = asyncio.ensure_future(progress.run())
    try:
        if retries and progress.terminal:
            await engine.wait_idle(include_waiting=True)
        else:
            await wait_for_links(engine, retries, progress.err)
        await files.wait()
    finally:
        redraw.cancel()
        progress.finish()


def say_what_was_left_out(pasted: PastedText, err: TextIO) -> None:
    """Lines that hold no link, and links given twice, each said in one line."""
    for sentence in pasted.left_out():
        print(f"linkdeck: {sentence}", file=err)


class NotText(ValueError):
    """Input that is not UTF-8 text."""


def utf8(argument: str) -> str:
    """A command-line argument, refused (NotText) when its bytes are not UTF-8:
    Python keeps such bytes as lone surrogates, which nothing can store."""
    try:
        argument.encode("utf-8")
    except UnicodeEncodeError:
        raise NotText("a link given on the command line is not valid UTF-8") from None
    return argument


def read_stdin(stdin: TextIO) -> str:
    """All of standard input as text; NotText when it is not UTF-8 text."""
    raw = getattr(stdin, "buffer", None)
    try:
        return raw.read().decode("utf-8") if raw is not None else stdin.read()
    except UnicodeDecodeError as error:
        reason = f"standard input is not UTF-8 text (byte {error.start + 1} is not)"
        raise NotText(reason) from None


class Printer:
    """Prints each item once, when it ends; `print_rest` prints those that did not."""

    def __init__(
        self, out: TextIO, as_json: bool, before: Callable[[], None] = lambda: None
    ) -> None:
        self.out = out
        self.as_json = as_json
        self.before = before
        """Called before each line: a terminal's download bars make way for it."""
        self.printed: set[int] = set()

    def on_event(self, event: Event) -> None:
        if isinstance(event, Item) and event.state in _ENDED:
            self.print(event)

    def print_rest(self, items: Iterable[Item]) -> None:
        for item in items:
            self.print(item)

    def print(self, item: Item) -> None:
        if item.id in self.printed:
            return
        self.printed.add(item.id)
        line = json.dumps(json_record(item)) if self.as_json else human_line(item)
        self.before()
        print(line, file=self.out, flush=True)


def json_record(item: Item) -> dict[str, object]:
    return {
        "id": item.id,
        "link": plain(item.link),
        "hoster": plain(item.hoster) if item.hoster else None,
        "state": str(item.state),
        "status": item.status,
        "message": plain(item.message),
        "location": plain(item.location) if item.location else None,
        "filename": plain(item.filename) if item.filename else None,
        "filesize": item.filesize,
        "reused": item.reused,
        "attempts": [
            {"at": a.at, "status": a.status, "message": plain(a.message)} for a in item.attempts
        ],
    }


def human_line(item: Item) -> str:
    """`state  hoster  link  what happened`, every server string made plain."""
    if item.state == ItemState.DONE:
        detail = plain(item.location or "", 2100) + (" (reused)" if item.reused else "")
    else:
        detail = plain(item.message, 200)
        if item.state == ItemState.WAITING and item.next_attempt_at:
            retry = time.strftime("%H:%M:%S", time.localtime(item.next_attempt_at))
            detail += f" (retry at {retry})"
        elif item.state in UNFINISHED and not item.attempts:
            detail = detail or "not sent"
    hoster = plain(item.hoster, 40) if item.hoster else "-"
    return f"{item.state:<11} {hoster:<20} {plain(item.link, 300)}  {detail}".rstrip()


async def wait_with_countdown(engine: UnlockEngine, err: TextIO) -> None:
    """Wait until every link has ended, showing the next retry on a terminal."""
    done = asyncio.ensure_future(engine.wait_idle(include_waiting=True))
    shown = False
    try:
        while not done.done():
            if err.isatty():
                err.write(f"\r\x1b[K{countdown(engine)}")
                err.flush()
                shown = True
            await asyncio.wait((done,), timeout=1.0)
    finally:
        done.cancel()
        if shown:
            err.write("\r\x1b[K")
            err.flush()


def countdown(engine: UnlockEngine) -> str:
    now = time.time()
    waiting = [i for i in engine.items.values() if i.state in (ItemState.WAITING, ItemState.HELD)]
    times = [i.next_attempt_at for i in waiting if i.next_attempt_at]
    state = engine.queue_state
    times += [*state.hoster_holds.values(), *filter(None, [state.global_hold_until])]
    busy = sum(i.state in (ItemState.PENDING, ItemState.UNLOCKING) for i in engine.items.values())
    if not times:
        return f"unlocking {busy} link(s)…"
    seconds = max(0, int(min(times) - now))
    return f"{len(waiting)} link(s) waiting, next try in {seconds // 60}:{seconds % 60:02d}"


def exit_code(items: list[Item], pause_reason: str | None) -> ExitCode:
    if pause_reason == LOGIN_FAILED:
        return ExitCode.LOGIN_FAILED
    answers = [attempt.status for item in items for attempt in item.attempts]
    if answers and all(status is None for status in answers):
        return ExitCode.UNREACHABLE  # not one answer came: refused, timed out or malformed
    if all(item.state == ItemState.DONE for item in items):
        return ExitCode.OK
    return ExitCode.FAILED
