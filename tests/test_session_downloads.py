"""Downloads driven through the session, as a front end would, against the
emulator: the file on disk byte for byte, `[download] auto`, pause, resume,
cancel and retry, an expired direct link unlocked again, a download left by a
process that ended taken back at the next start, another process's left alone."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tui.core import Event, Profile, Session
from tui.core.download_queue import DownloadAction
from tui.core.events import DownloadChanged, DownloadTotals
from tui.download.job import Download, DownloadState
from tui.emulator import Emulator, Faults
from tui.emulator.downloads import content, remote_file
from tui.settings import Settings
from tui.unlock.history import History
from tui.unlock.items import ItemState

LOGIN, PIN = "111111111", "1111"
SMALL = "https://uploaded.net/file/dlsm0043/small-43.zip"  # 20,969,277 bytes
OTHER = "https://uploaded.net/file/dlsm0086/small-86.zip"  # 21,055,078 bytes


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def until(condition, seconds: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)


def settings_for(url: str, folder: Path, **download: object) -> Settings:
    settings = Settings()
    api = replace(settings.api, url=url, login=LOGIN, password=PIN)
    downloads = replace(settings.download, dir=str(folder), min_free_space=0, **download)
    return replace(settings, api=api, download=downloads)


def digest_of_remote(link: str) -> str:
    remote = remote_file(link)
    return hashlib.sha256(content(remote.seed, 0, remote.size)).hexdigest()


def digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Front:
    """A session as the dashboard holds it, and every event it told."""

    def __init__(self, root: Path, settings: Settings) -> None:
        profile = Profile(settings, root / "config.toml", root / "data", root / "cache")
        self.session = Session(profile)
        self.events: list[Event] = []
        self.session.subscribe(self.events.append)

    async def __aenter__(self) -> Front:
        await self.session.open()
        await self.session.connect()
        await until(lambda: bool(self.session.hosters.hosters))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    async def unlocked(self, *links: str) -> list[int]:
        queued = await self.session.queue("\n".join(links))
        assert self.session.engine is not None
        await self.session.engine.wait_idle()
        ids = [item.id for item in queued.added]
        assert all(self.session.item(i).state is ItemState.DONE for i in ids)  # type: ignore[union-attr]
        return ids

    def download(self, item_id: int) -> Download:
        assert self.session.downloads is not None
        job = self.session.downloads.get(item_id)
        assert job is not None
        return job

    def states(self, item_id: int) -> list[DownloadState]:
        seen = [
            event.download.state
            for event in self.events
            if isinstance(event, DownloadChanged) and event.download.item_id == item_id
        ]
        return [state for i, state in enumerate(seen) if i == 0 or seen[i - 1] != state]

    async def ended(self, item_id: int) -> Download:
        await until(
            lambda: self.download(item_id).state in (DownloadState.DONE, DownloadState.FAILED)
        )
        return self.download(item_id)


async def test_a_done_item_is_downloaded_byte_for_byte(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    with Emulator() as emulator:
        async with Front(tmp_path, settings_for(emulator.url, folder)) as front:
            (item_id,) = await front.unlocked(SMALL)
            acted = front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            assert acted.acted == 1
            job = await front.ended(item_id)
            assert job.state is DownloadState.DONE, job.message
            target = Path(job.target or "")
            assert target.parent == folder and target.name == "small-43.zip"
            assert digest_of(target) == digest_of_remote(SMALL)
            assert [p.name for p in folder.iterdir()] == ["small-43.zip"]  # no .part left
            states = front.states(item_id)
            assert states[0] is DownloadState.QUEUED and states[-1] is DownloadState.DONE
            assert DownloadState.DOWNLOADING in states
            assert any(isinstance(event, DownloadTotals) for event in front.events)
            again = front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            assert again.sentence() == "Downloading 0; 1 was downloaded already"
    with History(tmp_path / "data" / "history.sqlite3") as history:
        ((stored_id, record, elsewhere),) = history.downloads()
        stored = Download.from_json(record)
        assert (stored_id, stored.state, stored.target, elsewhere) == (
            item_id,
            DownloadState.DONE,
            str(target),
            False,
        )


async def test_auto_downloads_each_link_as_it_is_unlocked(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    with Emulator() as emulator:
        settings = settings_for(emulator.url, folder, auto=True)
        async with Front(tmp_path, settings) as front:
            ids = await front.unlocked(SMALL, OTHER)
            for item_id in ids:
                assert (await front.ended(item_id)).state is DownloadState.DONE
    assert sorted(p.name for p in folder.iterdir()) == ["small-43.zip", "small-86.zip"]


async def test_an_item_not_unlocked_is_not_downloaded(tmp_path: Path) -> None:
    with Emulator() as emulator:
        async with Front(tmp_path, settings_for(emulator.url, tmp_path / "f")) as front:
            queued = await front.session.queue(
                "https://uploaded.net/file/abcd2345/missing/gone.zip"
            )
            assert front.session.engine is not None
            await front.session.engine.wait_idle()
            (item,) = queued.added
            acted = front.session.act_on_downloads([item.id, 999_999], DownloadAction.DOWNLOAD)
            assert acted.sentence() == (
                "Downloading 0; 1 was not unlocked yet, 1 was no longer in the history"
            )


async def test_pause_resume_cancel_and_retry(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    # Slow enough to pause it on the way: 2 MB/s.
    with Emulator(faults=Faults(dl_rate=2_000_000)) as emulator:
        async with Front(tmp_path, settings_for(emulator.url, folder)) as front:
            (item_id,) = await front.unlocked(SMALL)
            front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            await until(lambda: front.download(item_id).done > 1_000_000)
            paused = front.session.act_on_downloads([item_id], DownloadAction.PAUSE)
            assert paused.acted == 1
            assert front.download(item_id).state is DownloadState.PAUSED
            await asyncio.sleep(0.2)
            (part,) = folder.iterdir()
            assert part.name == "small-43.zip.part"
            kept = part.stat().st_blocks * 512  # written: the .part is sized (sparse) at once
            assert kept > 1_000_000
            emulator.faults.dl_rate = 0
            front.session.act_on_downloads([item_id], DownloadAction.RESUME)
            job = await front.ended(item_id)
            assert job.state is DownloadState.DONE, job.message
            assert digest_of(Path(job.target or "")) == digest_of_remote(SMALL)
            assert front.states(item_id)[-2:] == [
                DownloadState.DOWNLOADING,
                DownloadState.DONE,
            ] or front.states(item_id)[-2:] == [DownloadState.VERIFYING, DownloadState.DONE]

            (other_id,) = await front.unlocked(OTHER)
            emulator.faults.dl_rate = 2_000_000
            front.session.act_on_downloads([other_id], DownloadAction.DOWNLOAD)
            await until(lambda: front.download(other_id).done > 500_000)
            front.session.act_on_downloads([other_id], DownloadAction.CANCEL)
            await until(lambda: not (folder / "small-86.zip.part").exists())
            assert front.download(other_id).state is DownloadState.CANCELLED
            emulator.faults.dl_rate = 0
            front.session.act_on_downloads([other_id], DownloadAction.RETRY)
            job = await front.ended(other_id)
            assert job.state is DownloadState.DONE, job.message
            assert digest_of(Path(job.target or "")) == digest_of_remote(OTHER)


async def test_an_expired_direct_link_is_unlocked_again(tmp_path: Path) -> None:
    clock = FakeClock()
    folder = tmp_path / "files"
    with Emulator(clock=clock, faults=Faults(dl_expire_minutes=20)) as emulator:
        async with Front(tmp_path, settings_for(emulator.url, folder)) as front:
            (item_id,) = await front.unlocked(SMALL)
            expired = front.session.item(item_id).location  # type: ignore[union-attr]
            clock.now += 30 * 60
            front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            job = await front.ended(item_id)
            assert job.state is DownloadState.DONE, job.message
            assert job.url != expired
            assert digest_of(Path(job.target or "")) == digest_of_remote(SMALL)


async def test_a_download_left_by_an_ended_process_goes_on_at_the_next_start(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "files"
    with Emulator(faults=Faults(dl_rate=2_000_000)) as emulator:
        settings = settings_for(emulator.url, folder)
        front = Front(tmp_path, settings)
        await front.__aenter__()
        (item_id,) = await front.unlocked(SMALL)
        front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
        await until(lambda: front.download(item_id).done > 1_000_000)
        await front.__aexit__()  # a quit mid-download: it goes on at the next start
        assert (folder / "small-43.zip.part").exists()
        emulator.faults.dl_rate = 0
        async with Front(tmp_path, settings) as again:
            job = await again.ended(item_id)
            assert job.state is DownloadState.DONE, job.message
            assert digest_of(Path(job.target or "")) == digest_of_remote(SMALL)


async def test_earlier_downloads_are_taken_back_after_the_start_or_when_acted_on(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "files"
    with Emulator(faults=Faults(dl_rate=2_000_000)) as emulator:
        settings = settings_for(emulator.url, folder)
        async with Front(tmp_path, settings) as front:
            (item_id,) = await front.unlocked(SMALL)
            front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            await until(lambda: front.download(item_id).done > 0)
            front.session.act_on_downloads([item_id], DownloadAction.PAUSE)
        emulator.faults.dl_rate = 0
        again = Front(tmp_path, settings)
        await again.session.open()
        try:
            # Not read while the history's first rows are drawn...
            assert again.session.download(item_id) is None
            # ...but before a key typed meanwhile acts on it.
            resumed = again.session.act_on_downloads([item_id], DownloadAction.RESUME)
            assert resumed.acted == 1, resumed.sentence()
            job = await again.ended(item_id)
            assert job.state is DownloadState.DONE, job.message
        finally:
            await again.session.close()


@pytest.mark.parametrize("hostile", ["{", "[]", '{"item_id": -1}', '{"item_id": 1, "state": "x"}'])
async def test_a_damaged_download_record_is_skipped(tmp_path: Path, hostile: str) -> None:
    with Emulator() as emulator:
        async with Front(tmp_path, settings_for(emulator.url, tmp_path / "f")) as front:
            (item_id,) = await front.unlocked(SMALL)
            assert front.session.history is not None
            front.session.history.claim_download(item_id, hostile)
        async with Front(tmp_path, settings_for(emulator.url, tmp_path / "f")) as again:
            assert again.session.downloads is not None
            assert again.session.downloads.get(item_id) is None


async def test_wait_ends_for_items_queued_behind_others(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    with Emulator() as emulator:
        settings = settings_for(emulator.url, folder, concurrent_files=1)
        async with Front(tmp_path, settings) as front:
            ids = await front.unlocked(SMALL, OTHER)
            front.session.act_on_downloads(ids, DownloadAction.DOWNLOAD)
            assert front.session.downloads is not None
            async with asyncio.timeout(30):
                (last,) = await front.session.downloads.wait(ids[1:])
            assert last.state is DownloadState.DONE


async def test_a_download_another_process_holds_is_left_to_it(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    with Emulator(faults=Faults(dl_rate=2_000_000)) as emulator:
        settings = settings_for(emulator.url, folder)
        async with Front(tmp_path, settings) as first, Front(tmp_path, settings) as second:
            (item_id,) = await first.unlocked(SMALL)
            first.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            await until(lambda: first.download(item_id).done > 0)
            acted = second.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            assert acted.sentence() == "Downloading 0; 1 was downloaded by another linkdeck process"
            assert second.session.downloads is not None
            assert second.session.downloads.held_elsewhere(item_id)
            assert [p.name for p in folder.iterdir()] == ["small-43.zip.part"]  # one file, not two
            first.session.act_on_downloads([item_id], DownloadAction.CANCEL)


async def test_no_room_fails_saying_so_and_a_retry_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    with Emulator() as emulator:
        settings = settings_for(emulator.url, folder)
        full = replace(settings, download=replace(settings.download, min_free_space=1 << 60))
        async with Front(tmp_path, full) as front:
            (item_id,) = await front.unlocked(SMALL)
            front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            job = await front.ended(item_id)
            assert job.state is DownloadState.FAILED
            assert "bytes free" in job.message and "are needed" in job.message
            await front.session.apply(settings)
            front.session.act_on_downloads([item_id], DownloadAction.RETRY)
            assert (await front.ended(item_id)).state is DownloadState.DONE


async def test_sigkill_mid_download_resumes_from_what_is_on_disk(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    size = remote_file(SMALL).size
    with Emulator(faults=Faults(dl_rate=4_000_000)) as emulator:
        runner = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).with_name("download_runner.py")),
            str(tmp_path),
            emulator.url,
            SMALL,
            str(folder),
            stdout=asyncio.subprocess.PIPE,
        )
        assert runner.stdout is not None
        async with asyncio.timeout(60):
            while True:
                line = (await runner.stdout.readline()).decode().split()
                assert line, "the runner ended before it was half way"
                if line[0] == "downloading" and int(line[1]) >= size // 2:
                    break
        runner.kill()
        await runner.wait()
        part = folder / "small-43.zip.part"
        on_disk = part.stat().st_blocks * 512
        assert on_disk >= size // 2
        sent_before = emulator.stats.download_bytes
        emulator.faults.dl_rate = 0
        async with Front(tmp_path, settings_for(emulator.url, folder)) as again:
            (item_id,) = [download.item_id for download in again.session.downloads.all()]  # type: ignore[union-attr]
            job = await again.ended(item_id)
            assert job.state is DownloadState.DONE, job.message
            assert digest_of(Path(job.target or "")) == digest_of_remote(SMALL)
        refetched = sent_before + (emulator.stats.download_bytes - sent_before) - size
        # What was sent but not on disk when it was killed (in flight, in buffers).
        assert refetched <= 8 * 2**20, refetched


async def test_cancel_then_retry_at_once_downloads_whole(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    with Emulator(faults=Faults(dl_rate=4_000_000)) as emulator:
        async with Front(tmp_path, settings_for(emulator.url, folder)) as front:
            (item_id,) = await front.unlocked(SMALL)
            front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            await until(lambda: front.download(item_id).done > 1_000_000)
            emulator.faults.dl_rate = 0
            front.session.act_on_downloads([item_id], DownloadAction.CANCEL)
            front.session.act_on_downloads([item_id], DownloadAction.RETRY)  # same turn of the loop
            job = await front.ended(item_id)
            assert job.state is DownloadState.DONE, job.message
            assert digest_of(Path(job.target or "")) == digest_of_remote(SMALL)
            assert [p.name for p in folder.iterdir()] == ["small-43.zip"]


async def test_an_item_whose_file_downloads_is_not_removed(tmp_path: Path) -> None:
    from tui.core import ItemAction

    with Emulator(faults=Faults(dl_rate=2_000_000)) as emulator:
        async with Front(tmp_path, settings_for(emulator.url, tmp_path / "f")) as front:
            ids = await front.unlocked(SMALL, OTHER)
            front.session.act_on_downloads(ids[:1], DownloadAction.DOWNLOAD)
            acted = front.session.act_on_all(ids, ItemAction.REMOVE)
            assert acted.sentence() == "Removed 1; 1 was downloading its file"
            front.session.act_on_downloads(ids[:1], DownloadAction.CANCEL)
            assert front.session.act_on_all(ids[:1], ItemAction.REMOVE).acted == 1
            assert front.session.downloads is not None
            assert front.session.downloads.get(ids[0]) is None
