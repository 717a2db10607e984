"""Downloads through a real aria2c (`[download] engine = "aria2"`), driven
through the session as a front end would, against the emulator: the file on
disk byte for byte, aria2's own state after pause, resume and cancel, a
restart of linkdeck that finds its download in aria2 by its GID, the
hoster's connection settings as aria2's options, and a wrong secret or an
aria2 that does not answer: a failed download that says why in one sentence,
the secret nowhere, and a retry that works once aria2 is right."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from aria2d import Aria2, free_port, running_aria2c
from test_no_leaks import forms
from test_session_downloads import (
    OTHER,
    SMALL,
    FakeClock,
    Front,
    digest_of,
    digest_of_remote,
    settings_for,
    until,
)

from tui.core import Profile, Session
from tui.core.download_queue import DownloadAction
from tui.core.events import DownloadChanged
from tui.core.log_file import LogFile
from tui.download.job import DownloadState
from tui.emulator import Emulator, Faults, default_scenario
from tui.emulator.scenario import ConnectionSettings
from tui.settings import Aria2Settings, Settings

SLOW = 2_000_000
"""Bytes per second per connection: a 20 MB file takes seconds, time to act on it."""


@pytest.fixture
def aria2(tmp_path: Path) -> Iterator[Aria2]:
    with running_aria2c(tmp_path / "aria2-own", secrets.token_hex(16)) as daemon:
        yield daemon


def through(aria2: Aria2, url: str, folder: Path, **download: object) -> Settings:
    settings = settings_for(url, folder, engine="aria2", **download)
    rpc = Aria2Settings(rpc_url=aria2.url, secret=aria2.secret.reveal())
    return replace(settings, aria2=rpc)


def aria2_state(aria2: Aria2, gid: str) -> str | None:
    """aria2's status of `gid`; None once it forgot it."""
    return {d["gid"]: d["status"] for d in aria2.downloads()}.get(gid)


async def test_a_done_item_is_downloaded_by_aria2_byte_for_byte(
    tmp_path: Path, aria2: Aria2
) -> None:
    folder = tmp_path / "files"
    with Emulator() as emulator:
        async with Front(tmp_path, through(aria2, emulator.url, folder)) as front:
            (item_id,) = await front.unlocked(SMALL)
            front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            job = await front.ended(item_id)
            assert job.state is DownloadState.DONE, job.message
            assert job.engine == "aria2" and job.gid
            target = Path(job.target or "")
            assert target == folder / "small-43.zip"
            assert digest_of(target) == digest_of_remote(SMALL)
            assert [p.name for p in folder.iterdir()] == ["small-43.zip"]  # no .aria2 left
            assert DownloadState.DOWNLOADING in front.states(item_id)
            assert aria2.downloads() == []  # its result is not left in aria2's list
            assert not list(aria2.folder.iterdir())  # nothing where aria2 saves by itself


async def test_a_taken_name_is_never_overwritten(tmp_path: Path, aria2: Aria2) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "small-43.zip").write_bytes(b"mine")
    (folder / "small-43 (1).zip.aria2").write_bytes(b"not aria2's")
    with Emulator() as emulator:
        async with Front(tmp_path, through(aria2, emulator.url, folder)) as front:
            (item_id,) = await front.unlocked(SMALL)
            front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            job = await front.ended(item_id)
            assert job.state is DownloadState.DONE, job.message
            assert job.target == str(folder / "small-43 (2).zip")
            assert digest_of(Path(job.target)) == digest_of_remote(SMALL)
    assert (folder / "small-43.zip").read_bytes() == b"mine"
    assert (folder / "small-43 (1).zip.aria2").read_bytes() == b"not aria2's"


async def test_split_and_connections_per_server_follow_the_hoster(
    tmp_path: Path, aria2: Aria2
) -> None:
    scenario = default_scenario()
    four = ConnectionSettings(max_connections_per_file=4, max_connections_per_hoster=8)
    scenario.hosters = [
        replace(h, connection_settings=four) if h.name == "uploaded.net" else h
        for h in scenario.hosters
    ]
    folder = tmp_path / "files"
    with Emulator(scenario, faults=Faults(dl_rate=SLOW)) as emulator:
        settings = through(aria2, emulator.url, folder, max_connections_per_file=3)
        async with Front(tmp_path, settings) as front:
            (item_id,) = await front.unlocked(SMALL)
            front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            await until(lambda: front.download(item_id).gid is not None)
            gid = front.download(item_id).gid
            options = aria2.call("aria2.getOption", gid)
            assert isinstance(options, dict)
            # The service allows 4 connections per file, the user's cap is 3.
            assert (options["split"], options["max-connection-per-server"]) == ("3", "3")
            assert (options["allow-overwrite"], options["auto-file-renaming"]) == (
                "false",
                "true",
            )
            front.session.act_on_downloads([item_id], DownloadAction.CANCEL)
            await until(lambda: aria2_state(aria2, gid or "") is None)


async def test_pause_resume_and_cancel_are_aria2s(tmp_path: Path, aria2: Aria2) -> None:
    folder = tmp_path / "files"
    with Emulator(faults=Faults(dl_rate=SLOW)) as emulator:
        async with Front(tmp_path, through(aria2, emulator.url, folder)) as front:
            (item_id,) = await front.unlocked(SMALL)
            front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            await until(lambda: front.download(item_id).done > 500_000)
            gid = front.download(item_id).gid
            assert gid is not None and aria2_state(aria2, gid) == "active"
            told = [e.download for e in front.events if isinstance(e, DownloadChanged)]
            assert any(job.speed > 0 and job.connections == 1 for job in told)
            assert front.session.act_on_downloads([item_id], DownloadAction.PAUSE).acted == 1
            await until(lambda: aria2_state(aria2, gid) == "paused")
            assert front.download(item_id).state is DownloadState.PAUSED
            assert (folder / "small-43.zip.aria2").exists()

            emulator.faults.dl_rate = 0
            front.session.act_on_downloads([item_id], DownloadAction.RESUME)
            job = await front.ended(item_id)
            assert job.state is DownloadState.DONE, job.message
            assert job.gid == gid  # the same download, unpaused
            assert digest_of(Path(job.target or "")) == digest_of_remote(SMALL)

            (other_id,) = await front.unlocked(OTHER)
            emulator.faults.dl_rate = SLOW
            front.session.act_on_downloads([other_id], DownloadAction.DOWNLOAD)
            await until(lambda: front.download(other_id).done > 500_000)
            other_gid = front.download(other_id).gid
            assert other_gid is not None
            front.session.act_on_downloads([other_id], DownloadAction.CANCEL)
            await until(lambda: aria2_state(aria2, other_gid) is None)
            await until(lambda: not (folder / "small-86.zip").exists())
            assert not (folder / "small-86.zip.aria2").exists()
            assert front.download(other_id).state is DownloadState.CANCELLED
            await until(lambda: front.download(other_id).gid is None)

            emulator.faults.dl_rate = 0
            front.session.act_on_downloads([other_id], DownloadAction.RETRY)
            job = await front.ended(other_id)
            assert job.state is DownloadState.DONE, job.message
            assert digest_of(Path(job.target or "")) == digest_of_remote(OTHER)
    assert sorted(p.name for p in folder.iterdir()) == ["small-43.zip", "small-86.zip"]


async def test_a_restart_of_linkdeck_finds_its_download_in_aria2(
    tmp_path: Path, aria2: Aria2
) -> None:
    folder = tmp_path / "files"
    with Emulator(faults=Faults(dl_rate=SLOW)) as emulator:
        settings = through(aria2, emulator.url, folder)
        front = Front(tmp_path, settings)
        await front.__aenter__()
        (item_id,) = await front.unlocked(SMALL)
        front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
        await until(lambda: front.download(item_id).done > 1_000_000)
        gid = front.download(item_id).gid
        await front.__aexit__()  # a quit mid-download: aria2 goes on with it
        assert aria2_state(aria2, gid or "") == "active"

        async with Front(tmp_path, settings) as again:
            await until(lambda: again.download(item_id).state is DownloadState.DOWNLOADING)
            await until(lambda: again.download(item_id).done > 1_000_000)
            assert [d["gid"] for d in aria2.downloads()] == [gid]  # not added twice
            emulator.faults.dl_rate = 0
            job = await again.ended(item_id)
            assert job.state is DownloadState.DONE, job.message
            assert job.gid == gid
            assert digest_of(Path(job.target or "")) == digest_of_remote(SMALL)


class LoggedFront(Front):
    """A front whose session writes its log file, as the dashboard's does."""

    def __init__(self, root: Path, settings: Settings, log_file: LogFile) -> None:
        profile = Profile(settings, root / "config.toml", root / "data", root / "cache")
        self.session = Session(profile, log_file=log_file)
        self.events = []
        self.session.subscribe(self.events.append)


@pytest.mark.parametrize("wrong", ["secret", "url"])
async def test_a_wrong_secret_or_url_fails_with_a_sentence_and_the_secret_shows_nowhere(
    tmp_path: Path, aria2: Aria2, caplog: pytest.LogCaptureFixture, wrong: str
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_secret = "wrong-" + secrets.token_hex(8)
    folder = tmp_path / "files"
    log_file = LogFile(tmp_path / "state" / "linkdeck.log", debug=True)
    with Emulator() as emulator, log_file:
        right = through(aria2, emulator.url, folder)
        if wrong == "secret":
            bad = replace(right.aria2, secret=wrong_secret)
            says = "aria2 refused the secret: set [aria2] secret"
        else:
            bad = replace(right.aria2, rpc_url=f"http://127.0.0.1:{free_port()}/jsonrpc")
            says = "aria2 cannot be reached (127.0.0.1:"
        async with LoggedFront(tmp_path, replace(right, aria2=bad), log_file) as front:
            (item_id,) = await front.unlocked(SMALL)
            front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            failed = await front.ended(item_id)
            assert failed.state is DownloadState.FAILED
            assert failed.message.startswith(says) and "\n" not in failed.message
            assert aria2.downloads() == []

            await front.session.apply(right)  # aria2 is right again
            front.session.act_on_downloads([item_id], DownloadAction.RETRY)
            job = await front.ended(item_id)
            assert job.state is DownloadState.DONE, job.message
            assert digest_of(Path(job.target or "")) == digest_of_remote(SMALL)
            # Whatever logs a secret it was given by mistake, the log file does not keep it.
            given = [aria2.secret.reveal()] + [wrong_secret] * (wrong == "secret")
            logging.getLogger("tui.download").warning("leak %s", " ".join(given))
            shown = "\n".join(repr(event) for event in front.events)
    records = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}"
        for r in caplog.records
        if not r.getMessage().startswith("leak ")
    )
    written = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    for form in {form for secret in given for form in forms(secret)}:
        assert form not in records.encode()
        assert form not in shown.encode()
        for data in written:
            assert form not in data
    logged = (tmp_path / "state" / "linkdeck.log").read_text()
    assert "leak " + " ".join(["***"] * len(given)) in logged


async def test_a_download_aria2_forgot_is_added_again_under_its_name(tmp_path: Path) -> None:
    """aria2 restarted without a session file: linkdeck adds the link again
    under the name it had, and aria2 goes on from its control file."""
    folder = tmp_path / "files"
    with Emulator(faults=Faults(dl_rate=SLOW)) as emulator:
        with running_aria2c(tmp_path / "first", secrets.token_hex(16)) as first:
            front = Front(tmp_path, through(first, emulator.url, folder))
            await front.__aenter__()
            (item_id,) = await front.unlocked(SMALL)
            front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            await until(lambda: front.download(item_id).done > 1_000_000)
            gid = front.download(item_id).gid
            await front.__aexit__()
        assert (folder / "small-43.zip.aria2").exists()
        emulator.faults.dl_rate = 0
        with running_aria2c(tmp_path / "second", secrets.token_hex(16)) as second:
            async with Front(tmp_path, through(second, emulator.url, folder)) as again:
                job = await again.ended(item_id)
                assert job.state is DownloadState.DONE, job.message
                assert job.gid != gid
    assert job.target == str(folder / "small-43.zip")
    assert digest_of(folder / "small-43.zip") == digest_of_remote(SMALL)
    assert [p.name for p in folder.iterdir()] == ["small-43.zip"]


async def test_a_download_removed_in_aria2_fails_and_a_retry_goes_on(
    tmp_path: Path, aria2: Aria2
) -> None:
    folder = tmp_path / "files"
    with Emulator(faults=Faults(dl_rate=SLOW)) as emulator:
        async with Front(tmp_path, through(aria2, emulator.url, folder)) as front:
            (item_id,) = await front.unlocked(SMALL)
            front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            await until(lambda: front.download(item_id).done > 500_000)
            aria2.call("aria2.remove", front.download(item_id).gid)  # someone else
            failed = await front.ended(item_id)
            assert failed.state is DownloadState.FAILED
            assert failed.message == "The download was removed in aria2."
            assert aria2.downloads() == []

            emulator.faults.dl_rate = 0
            front.session.act_on_downloads([item_id], DownloadAction.RETRY)
            job = await front.ended(item_id)
            assert job.state is DownloadState.DONE, job.message
            assert job.target == str(folder / "small-43.zip")
            assert digest_of(folder / "small-43.zip") == digest_of_remote(SMALL)


async def test_an_expired_direct_link_is_unlocked_again_for_aria2(
    tmp_path: Path, aria2: Aria2
) -> None:
    clock = FakeClock()
    folder = tmp_path / "files"
    with Emulator(clock=clock, faults=Faults(dl_expire_minutes=20)) as emulator:
        async with Front(tmp_path, through(aria2, emulator.url, folder)) as front:
            (item_id,) = await front.unlocked(SMALL)
            expired = front.session.item(item_id).location  # type: ignore[union-attr]
            clock.now += 30 * 60
            front.session.act_on_downloads([item_id], DownloadAction.DOWNLOAD)
            job = await front.ended(item_id)
            assert job.state is DownloadState.DONE, job.message
            assert job.url != expired
            assert digest_of(Path(job.target or "")) == digest_of_remote(SMALL)
            assert aria2.downloads() == []


async def test_the_hosters_limit_holds_across_files(tmp_path: Path, aria2: Aria2) -> None:
    """4 connections per file, 5 per hoster: two files at once get 4 and 1."""
    scenario = default_scenario()
    limits = ConnectionSettings(max_connections_per_file=4, max_connections_per_hoster=5)
    scenario.hosters = [
        replace(h, connection_settings=limits) if h.name == "uploaded.net" else h
        for h in scenario.hosters
    ]
    folder = tmp_path / "files"
    with Emulator(scenario, faults=Faults(dl_rate=SLOW)) as emulator:
        async with Front(tmp_path, through(aria2, emulator.url, folder)) as front:
            ids = await front.unlocked(SMALL, OTHER)
            front.session.act_on_downloads(ids, DownloadAction.DOWNLOAD)
            await until(lambda: all(front.download(i).gid for i in ids))
            gids = [front.download(i).gid for i in ids]
            splits = sorted(aria2.call("aria2.getOption", gid)["split"] for gid in gids)  # type: ignore[index]
            assert splits == ["1", "4"]
            front.session.act_on_downloads(ids, DownloadAction.CANCEL)
            await until(lambda: aria2.downloads() == [])
