"""The built-in fetch against the project's emulator, with what its /dl/ does as
real hosters do: connections cut mid-body, a bandwidth limit per connection,
limits of connections per file and per client, hostile names in
Content-Disposition."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tui.download.fetch import Progress, fetch
from tui.download.plan import Plan
from tui.emulator import Emulator, Faults
from tui.emulator.downloads import HOSTILE_NAMES, RemoteFile, content, parse_token

LOGIN = {"params[login]": "111111111", "params[pass]": "1111"}
RG_ID = "0123456789abcdef0123456789abcdef"


async def unlocked(client: httpx.AsyncClient, emu: Emulator, path: str) -> dict[str, object]:
    link = f"https://rapidgator.net/file/{RG_ID}/{path}"
    answer = await client.get(
        emu.url, params={"method": "directdownloadlink", "params[link]": link, **LOGIN}
    )
    return answer.json()["result"]


def size_and_seed(location: str) -> tuple[int, int]:
    found = parse_token(location.split("/dl/", 1)[1].split("/", 1)[0])
    assert found is not None
    return found


def same_content(path: Path, seed: int) -> bool:
    """The whole file is byte for byte the emulator's."""
    return path.read_bytes() == content(seed, 0, path.stat().st_size)


async def test_a_download_cut_again_and_again_asks_again_and_completes(tmp_path: Path) -> None:
    # Every connection is cut after 2 to 6 MB: each goes on from where it stood.
    faults = Faults(dl_drop_after=1.0, dl_drop_min_bytes=2 << 20, dl_drop_max_bytes=6 << 20)
    with Emulator(faults=faults) as emu:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await unlocked(client, emu, "movie.mkv")
            location = str(answer["location"])
            size, seed = size_and_seed(location)
            path = await fetch(client, location, tmp_path, stall_seconds=5, connections=2)
    assert path.stat().st_size == size
    with path.open("rb") as got:
        assert got.read(1 << 20) == content(seed, 0, 1 << 20)
        got.seek(size - (1 << 20))
        assert got.read() == content(seed, size - (1 << 20), 1 << 20)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no .part left


async def test_n_connections_are_used_and_the_file_is_exact(tmp_path: Path) -> None:
    remote = RemoteFile("split.bin", 8 << 20, seed=7)
    seen: list[int] = []
    with Emulator(faults=Faults(dl_rate=4 << 20)) as emu:

        def watch(progress: Progress) -> None:
            seen.append(emu.stats.active_downloads)

        async with httpx.AsyncClient() as client:
            path = await fetch(
                client, remote.location(emu.base_url), tmp_path, connections=4, on_progress=watch
            )
    assert max(seen) == 4
    assert same_content(path, remote.seed)


async def test_beyond_the_servers_limits_fewer_connections_complete(tmp_path: Path) -> None:
    per_file = RemoteFile("per-file.bin", 6 << 20, seed=8)
    per_client = RemoteFile("per-client.bin", 6 << 20, seed=9)
    seen: list[int] = []
    faults = Faults(dl_rate=8 << 20, dl_max_per_file=2, dl_max_per_client=3)
    with Emulator(faults=faults) as emu:

        def watch(progress: Progress) -> None:
            seen.append(emu.stats.active_downloads)

        async with httpx.AsyncClient() as client:
            paths = await asyncio.gather(
                *(
                    fetch(
                        client,
                        remote.location(emu.base_url),
                        tmp_path,
                        connections=4,
                        on_progress=watch,
                    )
                    for remote in (per_file, per_client)
                )
            )
    assert max(seen) <= 3
    assert same_content(paths[0], per_file.seed) and same_content(paths[1], per_client.seed)


async def test_slots_per_hoster_hold_across_files(tmp_path: Path) -> None:
    slots = asyncio.Semaphore(2)
    held = most = 0

    @contextlib.asynccontextmanager
    async def slot() -> AsyncIterator[None]:
        nonlocal held, most
        async with slots:
            held += 1
            most = max(most, held)
            try:
                yield
            finally:
                held -= 1

    remotes = [RemoteFile(f"{n}.bin", 4 << 20, seed=n) for n in range(2)]
    with Emulator(faults=Faults(dl_rate=8 << 20)) as emu:
        async with httpx.AsyncClient() as client:
            paths = await asyncio.gather(
                *(
                    fetch(
                        client,
                        remote.location(emu.base_url),
                        tmp_path,
                        connections=4,
                        connection_slot=slot,
                    )
                    for remote in remotes
                )
            )
    assert most == 2
    assert all(same_content(path, remote.seed) for path, remote in zip(paths, remotes, strict=True))


async def test_a_resume_from_a_saved_plan_completes_the_file(tmp_path: Path) -> None:
    remote = RemoteFile("resumed.bin", 6 << 20, seed=11)
    saved: list[str] = []
    with Emulator(faults=Faults(dl_rate=1 << 20)) as emu:
        async with httpx.AsyncClient() as client:
            location = remote.location(emu.base_url)
            task = asyncio.create_task(
                fetch(
                    client,
                    location,
                    tmp_path,
                    connections=3,
                    on_plan=lambda plan: saved.append(plan.to_json()),
                )
            )
            while not saved or Plan.from_json(saved[-1]).done < 1 << 20:
                await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            plan = Plan.from_json(saved[-1])
            assert len(plan.segments) > 1 and 0 < plan.done < remote.size
            path = await fetch(client, location, tmp_path, plan=plan, connections=3)
    assert same_content(path, remote.seed)


@pytest.mark.parametrize("kind", sorted(HOSTILE_NAMES))
async def test_a_hostile_name_lands_as_one_file_in_the_folder(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    with Emulator() as emu:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await unlocked(client, emu, f"name-{kind}/movie.mkv")
            path = await fetch(client, str(answer["location"]), folder)
    assert path.parent == folder and path.is_file()
    assert list(folder.iterdir()) == [path] and not list(tmp_path.glob("*.mkv"))
    assert len(path.name.encode()) <= 255 and path.name not in (".", "..")
    assert hashlib.sha256(path.name.encode()).hexdigest()  # a real, encodable name
