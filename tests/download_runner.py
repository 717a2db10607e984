"""A linkdeck session in a process of its own that downloads one link and says
how far it got on stdout, for a test to kill it mid-file:
`python download_runner.py ROOT API_URL LINK FOLDER`."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path

from tui.core import Profile, Session
from tui.core.download_queue import DownloadAction
from tui.core.events import DownloadChanged
from tui.settings import Settings


async def main(root: Path, url: str, link: str, folder: str) -> None:
    settings = Settings()
    api = replace(settings.api, url=url, login="111111111", password="1111")
    download = replace(settings.download, dir=folder, min_free_space=0)
    profile = Profile(
        replace(settings, api=api, download=download),
        root / "config.toml",
        root / "data",
        root / "cache",
    )
    session = Session(profile)

    def show(event: object) -> None:
        if isinstance(event, DownloadChanged):
            print(event.download.state, event.download.done, flush=True)

    session.subscribe(show)
    await session.open()
    await session.connect()
    while not session.hosters.hosters:
        await asyncio.sleep(0.02)
    queued = await session.queue(link)
    assert session.engine is not None and session.downloads is not None
    await session.engine.wait_idle()
    ids = [item.id for item in queued.added]
    session.act_on_downloads(ids, DownloadAction.DOWNLOAD)
    await session.downloads.wait(ids)
    await session.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), *sys.argv[2:5]))
