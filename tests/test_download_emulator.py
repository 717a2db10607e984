"""The built-in fetch against the project's emulator, with what its /dl/ does as
real hosters do: connections cut mid-body, hostile names in Content-Disposition."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from tui.download.failures import DownloadError, Partial
from tui.download.fetch import fetch
from tui.emulator import Emulator, Faults
from tui.emulator.downloads import HOSTILE_NAMES, content, parse_token

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


async def test_a_download_cut_again_and_again_resumes_to_the_whole_file(tmp_path: Path) -> None:
    # Every connection is cut after 2 to 6 MB: each attempt goes on from the .part.
    faults = Faults(dl_drop_after=1.0, dl_drop_min_bytes=2 << 20, dl_drop_max_bytes=6 << 20)
    with Emulator(faults=faults) as emu:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await unlocked(client, emu, "movie.mkv")
            location = str(answer["location"])
            size, seed = size_and_seed(location)
            resume: Partial | None = None
            attempts = 0
            while attempts < 200:
                attempts += 1
                try:
                    path = await fetch(client, location, tmp_path, resume=resume, stall_seconds=5)
                    break
                except DownloadError as stopped:
                    assert stopped.partial is not None, stopped
                    resume = stopped.partial
            else:
                pytest.fail("never finished")  # pragma: no cover
    assert attempts > 2
    assert path.stat().st_size == size
    with path.open("rb") as got:
        assert got.read(1 << 20) == content(seed, 0, 1 << 20)
        got.seek(size - (1 << 20))
        assert got.read() == content(seed, size - (1 << 20), 1 << 20)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no .part left


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
