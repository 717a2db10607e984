"""aria2 as the engine of `tui.core.download_queue`: each direct link is handed
to an aria2 daemon over its JSON-RPC (`tui.download.aria2`), which writes the
file; linkdeck follows it and shows its progress.

aria2's id of the download (its GID) is saved the moment aria2 gives it, so
the download is found again in aria2 after a restart of linkdeck (aria2 goes
on without it) instead of being added twice. A download aria2 no longer knows
(restarted without a session file) is added again under the name it had, so
aria2 goes on from its control file. Everything aria2 says is untrusted: the
path it reports must lie in the download's folder, its messages are made
plain. The secret goes to the log file's scrubber the moment it is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tui.core.download_queue import Fetching
from tui.download.aria2 import (
    FILES,
    STATUS_KEYS,
    Aria2CallFailed,
    Aria2Client,
    Aria2Error,
    Aria2Status,
    is_gid,
    open_client,
    watch,
)
from tui.download.failures import (
    Aria2CallError,
    Aria2Failed,
    DownloadError,
    OutsideFolder,
    Refused,
    RemovedInAria2,
    SizeMismatch,
    UnsafePart,
)
from tui.download.files import check_room, free_name
from tui.download.names import download_name
from tui.settings import SettingsError

if TYPE_CHECKING:
    from tui.download.job import Download
    from tui.secret import Secret
    from tui.settings import DownloadSettings, Settings

POLL_SECONDS = 0.5
"""How often aria2 is asked how far a download got."""
CONTROL_SUFFIX = ".aria2"
"""aria2's control file beside the file it writes: what it resumes from."""
REMOVED_WITHIN = 10.0
"""Seconds aria2 is given to stop a removed download (it writes its control
file a last time) before its files are deleted."""
NOT_FOUND = 3
"""aria2's error code of a download whose server answered 404."""
_HTTP_STATUS = re.compile(r"status=([1-5][0-9]{2})\b")


class Aria2Engine:
    """Downloads through the aria2 of `[aria2]`, read at each call (saved
    settings take effect on the next); `on_secret` is told each secret read."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        on_secret: Callable[[Secret], None],
        *,
        poll_seconds: float = POLL_SECONDS,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.on_secret = on_secret
        self.poll_seconds = poll_seconds
        self._sleep = sleep

    async def run(self, job: Download, fetching: Fetching) -> Path:
        folder = _folder(job)
        folder.mkdir(parents=True, exist_ok=True)
        async with self._calling() as client, _hoster_share(fetching) as connections:
            gid = await self._attach(client, job)
            target = _within(folder, job.target)
            if gid is None:
                gid, target = await self._add(client, job, connections, fetching, folder)
            return await self._follow(client, gid, target, job, fetching, folder)

    def use_settings(self, settings: DownloadSettings) -> None:
        """Nothing to change: a shared aria2's speed limit is its own."""

    async def stop(self, job: Download, *, discard: bool) -> None:
        gid = job.gid if is_gid(job.gid) else None
        if gid is not None:
            async with self._calling() as client:
                if discard:
                    await self._remove(client, gid)
                else:
                    # aria2 says no to a download that has ended or that it forgot.
                    with contextlib.suppress(Aria2CallFailed):
                        await client.pause(gid)
        if discard:
            _delete_written(_folder(job), job.target)

    # --- running ------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _calling(self) -> AsyncIterator[Aria2Client]:
        """A client of aria2 for the block; any failure to ask it is an
        `Aria2CallError` with the client's sentence."""
        try:
            client = await open_client(self.settings().aria2, on_secret=self.on_secret)
        except SettingsError as error:
            raise Aria2CallError(str(error)) from None
        try:
            async with client:
                yield client
        except Aria2Error as error:
            raise Aria2CallError(str(error)) from None

    async def _attach(self, client: Aria2Client, job: Download) -> str | None:
        """The GID of `job`'s download if aria2 still has it going (unpaused);
        None when it is to be added (again)."""
        gid = job.gid if is_gid(job.gid) else None
        if gid is None:
            return None
        try:
            status = await client.tell_status(gid, ("status",))
        except Aria2CallFailed as error:
            if error.forgotten:
                return None
            raise
        if status.status == "removed":
            await _forget(client, gid)
            raise RemovedInAria2()
        if status.status == "error":
            # Failed before (a retry, or a direct link unlocked again): added
            # anew, aria2 goes on from its control file.
            await _forget(client, gid)
            return None
        if status.status == "paused":
            await client.unpause(gid)
        return gid

    async def _add(
        self,
        client: Aria2Client,
        job: Download,
        connections: int,
        fetching: Fetching,
        folder: Path,
    ) -> tuple[str, Path]:
        """Hand `job` to aria2, to fetch over `connections`: its GID (saved at
        once) and the file it writes."""
        name = _earlier_name(job, folder)
        if name is None:
            check_room(folder, job.expected_size or 0, self.settings().download.min_free_space)
            wanted = download_name(None, job.filename, job.url)
            name = free_name(folder, wanted, (CONTROL_SUFFIX,))
        adding = asyncio.ensure_future(
            client.add_uri(
                job.url,
                dir=str(folder),
                out=name,
                split=connections,
                max_connection_per_server=connections,
            )
        )
        target = folder / name
        try:
            gid = await asyncio.shield(adding)
        except asyncio.CancelledError:
            # Paused or cancelled while aria2 was adding it: its GID was never
            # saved, so nothing would ever stop or find that download again.
            with contextlib.suppress(Aria2Error):
                await self._remove(client, await adding)
                _delete_written(folder, str(target))
            raise
        fetching.resumable(_resume_json(gid, target), str(target), gid=gid)
        return gid, target

    async def _follow(
        self,
        client: Aria2Client,
        gid: str,
        target: Path | None,
        job: Download,
        fetching: Fetching,
        folder: Path,
    ) -> Path:
        """Tell aria2's progress of `gid` until it ends; the file's path once complete."""

        def seen(status: Aria2Status) -> None:
            nonlocal target
            if status.path is not None:
                written = _within(folder, status.path)
                if written is None:
                    raise OutsideFolder(folder)
                if written != target:  # aria2 took another name (one appeared meanwhile)
                    target = written
                    fetching.resumable(_resume_json(gid, target), str(target), gid=gid)
            if not status.ended:
                fetching.progress(
                    status.completed_length or 0,
                    status.total_length or None,
                    float(status.download_speed or 0),
                    status.connections or 0,
                )

        status = await watch(
            client,
            gid,
            seen,
            keys=(*STATUS_KEYS, FILES),
            every=self.poll_seconds,
            sleep=self._sleep,
        )
        await _forget(client, gid)
        if status.status != "complete":
            raise _failure(status)
        if target is None:
            raise Aria2Failed("it named no file")
        return _complete(target, job.expected_size)

    async def _remove(self, client: Aria2Client, gid: str) -> None:
        """Stop `gid` in aria2 and forget it, once aria2 is done writing."""
        with contextlib.suppress(Aria2CallFailed):  # ended or forgotten already
            await client.remove(gid)
        async with asyncio.timeout(REMOVED_WITHIN):
            while True:
                try:
                    status = await client.tell_status(gid, ("status",))
                except Aria2CallFailed as error:
                    if error.forgotten:
                        return
                    raise
                if status.ended:
                    break
                await self._sleep(0.1)
        await _forget(client, gid)


@contextlib.asynccontextmanager
async def _hoster_share(fetching: Fetching) -> AsyncIterator[int]:
    """The connections the file may use while the block runs: up to its own
    limit, as many as the hoster's limit across files leaves (at least one,
    waited for). aria2 opens them as it likes, so they are held throughout."""
    slot, wanted = fetching.slot, fetching.limits.connections
    if slot is None:
        yield wanted
        return
    await slot.acquire()
    held = 1
    try:
        while held < wanted and not slot.locked():
            await slot.acquire()  # free: returns at once
            held += 1
        yield held
    finally:
        for _ in range(held):
            slot.release()


async def _forget(client: Aria2Client, gid: str) -> None:
    """aria2 keeps an ended download in its list until told to forget it."""
    with contextlib.suppress(Aria2CallFailed):
        await client.remove_download_result(gid)


def _failure(status: Aria2Status) -> DownloadError:
    """What aria2's error says: the download host's HTTP status when it was
    one (the queue unlocks an expired link again, waits out a busy host)."""
    if status.status == "removed":
        return RemovedInAria2()
    message = status.error_message or f"error {status.error_code}"
    if status.error_code == NOT_FOUND:
        return Refused(404)
    http = _HTTP_STATUS.search(message)
    if http is not None:
        return Refused(int(http[1]))
    return Aria2Failed(message)


def _folder(job: Download) -> Path:
    """The download's folder as a full path: aria2 runs in a folder of its own."""
    return Path(os.path.abspath(job.folder))


def _complete(path: Path, expected_size: int | None) -> Path:
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePart(path)
    if expected_size and info.st_size != expected_size:
        raise SizeMismatch(info.st_size, expected_size)
    return path


def _within(folder: Path, text: str | None) -> Path | None:
    """The path `text` names (from aria2 or a stored record: untrusted) when
    it is a file right in `folder`; else None."""
    if not text:
        return None
    path = Path(os.path.normpath(folder / text))
    if path.parent != Path(os.path.normpath(folder)) or path.name in ("", ".", ".."):
        return None
    return path


def _earlier_name(job: Download, folder: Path) -> str | None:
    """The name aria2 wrote before, when it can go on from its control file there."""
    target = _within(folder, job.target)
    if target is None:
        return None
    control = target.with_name(target.name + CONTROL_SUFFIX)
    if _regular_file(target) and _regular_file(control):
        return target.name
    return None


def _delete_written(folder: Path, target_text: str | None) -> None:
    """Delete the file aria2 wrote and its control file: only in `folder`, only
    regular files (a link is left alone, never followed)."""
    target = _within(folder, target_text)
    if target is None:
        return
    for path in (target, target.with_name(target.name + CONTROL_SUFFIX)):
        if _regular_file(path):
            path.unlink(missing_ok=True)


def _regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _resume_json(gid: str, target: Path) -> str:
    return json.dumps({"gid": gid, "target": str(target)})
