"""`linkdeck download`: the files of items of the history, from a script.

Each item's download is taken up where the history has it: a new one, a
paused one resumed, a failed or cancelled one retried, one an earlier run left
(killed, or stopped by Ctrl-C) going on from what is on disk. An item another
linkdeck process downloads is left to it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import sys
from pathlib import Path
from typing import TextIO

from tui.commands.common import ExitCode, run_command
from tui.commands.download_progress import DownloadProgress
from tui.commands.file_downloads import (
    STOPPED_BY,
    print_results,
    results,
    start_download,
    until_done_or_interrupted,
)
from tui.core import Profile, Session
from tui.core.log_file import LogFile
from tui.download.job import Download, DownloadState
from tui.unlock import ItemState
from tui.unlock.log_query import LogQuery

GOES_ON_WHERE_IT_IS = frozenset(
    {DownloadState.QUEUED, DownloadState.DOWNLOADING, DownloadState.PAUSED}
)
"""Downloads that resume in their folder, whatever --dir says."""


def goes_on_elsewhere(session: Session, job: Download) -> bool:
    """Whether `job` resumes in a folder other than the downloads' of now."""
    return job.state in GOES_ON_WHERE_IT_IS and Path(job.folder) != session.download_folder()


def main_download(args: argparse.Namespace) -> int:
    return run_command(args, lambda profile, log: run_download(args, profile, log_file=log))


def downloading_into(profile: Profile, folder: str | None) -> Profile:
    """`profile` with its downloads going into `folder` (from the command line),
    when one is given."""
    if not folder:
        return profile
    settings = profile.settings
    where = os.path.abspath(os.path.expanduser(folder))
    download = dataclasses.replace(settings.download, dir=where)
    return dataclasses.replace(profile, settings=dataclasses.replace(settings, download=download))


async def run_download(
    args: argparse.Namespace,
    profile: Profile,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    log_file: LogFile | None = None,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    session = Session(downloading_into(profile, args.dir), log_file=log_file)
    progress = DownloadProgress(err)
    session.subscribe(progress.on_event)
    refused: dict[int, str] = {}
    interrupted: signal.Signals | None = None
    try:
        # Checks the login too: an expired direct link is unlocked again.
        await session.start_command()
        downloads = session.downloads
        assert downloads is not None
        ids = wanted_ids(session) if args.all_done else list(dict.fromkeys(args.ids))
        downloads.restore(only=set(ids))
        if args.all_done:
            ids = [i for i in ids if not already_downloaded(session, i)]
            elsewhere = [i for i in ids if downloads.held_elsewhere(i)]
            if elsewhere:
                print(
                    f"linkdeck: {len(elsewhere)} item(s) are downloaded by another linkdeck"
                    " process: left to it",
                    file=err,
                )
            ids = [i for i in ids if i not in elsewhere]
            if not ids:
                print("linkdeck: every done item is downloaded already", file=err)
                return ExitCode.OK
        for item_id in ids:
            item = session.item(item_id)
            link = item.link if item is not None else ""
            job = downloads.get(item_id)
            progress.follow(item_id, link, job)
            if args.dir and job is not None and goes_on_elsewhere(session, job):
                print(
                    f"linkdeck: #{item_id} goes on in {job.folder}, where its partial"
                    " file is (--dir is for new and failed downloads)",
                    file=err,
                )
            reason = start_download(session, item_id)
            if reason is not None:
                refused[item_id] = reason
        started = [i for i in ids if i not in refused]
        redraw = asyncio.ensure_future(progress.run())
        try:
            interrupted = await until_done_or_interrupted(downloads.wait(started))
        finally:
            redraw.cancel()
            progress.finish()
    finally:
        await session.close()
    all_done = print_results(
        results(session, progress, refused, interrupted=interrupted), out, err, as_json=args.json
    )
    if interrupted:
        return STOPPED_BY[interrupted][1]
    return ExitCode.OK if all_done else ExitCode.FAILED


def wanted_ids(session: Session) -> list[int]:
    """`--all-done`: every item of the history done unlocking, oldest first."""
    assert session.history is not None
    return session.history.find_ids(LogQuery(states=frozenset({ItemState.DONE})))


def already_downloaded(session: Session, item_id: int) -> bool:
    assert session.downloads is not None
    job = session.downloads.get(item_id)
    return job is not None and job.state is DownloadState.DONE
