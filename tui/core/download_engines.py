"""The engines that download one file for `tui.core.download_queue`: linkdeck's
own (`tui.download.fetch` over httpx), or an aria2 daemon (`tui.download.aria2`)."""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tui.core.aria2_engine import Aria2Engine
from tui.core.download_queue import Engine, Fetching
from tui.download.failures import NotAFolder
from tui.download.fetch import Progress, fetch
from tui.download.job import Download
from tui.download.plan import Plan
from tui.download.rate import RateLimiter

if TYPE_CHECKING:
    from tui.core.session import Session
    from tui.secret import Secret
    from tui.settings import DownloadSettings


def engines_for(session: Session) -> dict[str, Engine]:
    """The engines a session's downloads may use, by `[download] engine` name."""

    def scrubbed(secret: Secret) -> None:
        if session.log_file is not None:
            session.log_file.add_secret(secret)

    return {
        "builtin": BuiltinEngine(session.download_http, lambda: session.settings.download),
        "aria2": Aria2Engine(lambda: session.settings, scrubbed),
    }


class BuiltinEngine:
    """linkdeck's own engine, over one httpx client for every download, its
    rate limit shared by every connection of every file."""

    def __init__(
        self,
        http: Callable[[], httpx.AsyncClient],
        settings: Callable[[], DownloadSettings],
    ) -> None:
        self.http = http
        self.settings = settings
        self.limiter = RateLimiter(settings().rate_limit)

    async def run(self, job: Download, fetching: Fetching) -> Path:
        folder = Path(job.folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise NotAFolder(folder) from None
        self.limiter.rate = self.settings().rate_limit

        def progress(now: Progress) -> None:
            fetching.progress(now.done, now.total, now.speed, now.connections)

        def saved(plan: Plan) -> None:
            fetching.resumable(plan.to_json(), str(plan.part))

        slot = fetching.slot
        return await fetch(
            self.http(),
            job.url,
            folder,
            answer_filename=job.filename,
            expected_size=job.expected_size,
            plan=_plan(job.resume, folder),
            resume_allowed=fetching.limits.resume,
            connections=fetching.limits.connections,
            connection_slot=(lambda: slot) if slot is not None else None,
            limiter=self.limiter,
            min_free_space=self.settings().min_free_space,
            on_progress=progress,
            on_plan=saved,
        )

    def use_settings(self, settings: DownloadSettings) -> None:
        """Saved settings: the rate limit applies at once, to the connections
        waiting on it too."""
        self.limiter.rate = settings.rate_limit

    async def stop(self, job: Download, *, discard: bool) -> None:
        plan = _plan(job.resume, Path(job.folder))
        if discard and plan is not None:
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISREG(plan.part.lstat().st_mode):
                    plan.part.unlink()


def _plan(text: str | None, folder: Path) -> Plan | None:
    """What a resume needs, from the record (untrusted: None when it is not a
    plan of a `.part` in `folder`, and the file starts afresh)."""
    if not text:
        return None
    try:
        plan = Plan.from_json(text)
    except ValueError:
        return None
    if plan.part.parent != folder:  # Plan.from_json holds it to a `.part`
        return None
    return plan
