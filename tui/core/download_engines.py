"""The engines that download one file for `tui.core.download_queue`: linkdeck's
own (`tui.download.fetch` over httpx), or an aria2 daemon (`tui.download.aria2`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tui.core.aria2_engine import Aria2Engine
from tui.core.download_queue import Engine, Fetching
from tui.download.failures import DownloadError, Partial
from tui.download.fetch import Progress, fetch
from tui.download.job import Download

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
    """linkdeck's own engine, over one httpx client for every download."""

    def __init__(
        self,
        http: Callable[[], httpx.AsyncClient],
        settings: Callable[[], DownloadSettings],
    ) -> None:
        self.http = http
        self.settings = settings

    async def run(self, job: Download, fetching: Fetching) -> Path:
        folder = Path(job.folder)
        folder.mkdir(parents=True, exist_ok=True)

        def progress(now: Progress) -> None:
            fetching.progress(now.done, now.total, now.speed, 1)

        def part(partial: Partial) -> None:
            fetching.resumable(_resume_json(partial), str(partial.part))

        try:
            return await fetch(
                self.http(),
                job.url,
                folder,
                answer_filename=job.filename,
                expected_size=job.expected_size,
                resume=_partial(job.resume),
                resume_allowed=fetching.limits.resume,
                min_free_space=self.settings().min_free_space,
                on_progress=progress,
                on_part=part,
            )
        except DownloadError as error:
            if error.partial is not None:
                fetching.resumable(_resume_json(error.partial), str(error.partial.part))
            raise

    async def stop(self, job: Download, *, discard: bool) -> None:
        partial = _partial(job.resume)
        if discard and partial is not None:
            partial.part.unlink(missing_ok=True)


def _resume_json(partial: Partial) -> str:
    return json.dumps({"part": str(partial.part), "validator": partial.validator})


def _partial(text: str | None) -> Partial | None:
    """What a resume needs, from the record (untrusted: None when it is not ours)."""
    if not text:
        return None
    try:
        record = json.loads(text)
        part, validator = record["part"], record["validator"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(part, str) or not part.endswith(".part"):
        return None
    if validator is not None and not isinstance(validator, str):
        return None
    return Partial(Path(part), validator)
