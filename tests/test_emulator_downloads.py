"""What real hosters do to direct downloads under /dl/, seen by an httpx client over loopback."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from commandline import isolated_env

from tui.emulator import Emulator, Faults, ScenarioError
from tui.emulator.downloads import HOSTILE_NAMES, content, parse_token
from tui.emulator.scenario import parse_scenario

LOGIN = {"params[login]": "111111111", "params[pass]": "1111"}
RG_ID = "0123456789abcdef0123456789abcdef"


class FakeClock:
    def __init__(self, now: float = 1_500_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def unlock(client: httpx.Client, emu: Emulator, path: str = "movie.mkv") -> dict[str, object]:
    link = f"https://rapidgator.net/file/{RG_ID}/{path}"
    answer = client.get(
        emu.url, params={"method": "directdownloadlink", "params[link]": link, **LOGIN}
    )
    return answer.json()["result"]


def location_of(client: httpx.Client, emu: Emulator, path: str = "movie.mkv") -> str:
    return str(unlock(client, emu, path)["location"])


def seed_of(location: str) -> int:
    found = parse_token(location.split("/dl/", 1)[1].split("/", 1)[0])
    assert found is not None
    return found[1]


def wait_for(condition: object, seconds: float = 5.0) -> None:
    """Wait until the server has seen what the client did (a drop is noticed on its next write)."""
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the server never noticed"
        time.sleep(0.01)


def test_ranges_carry_validators_and_honour_if_range(client: httpx.Client) -> None:
    with Emulator() as emu:
        location = location_of(client, emu)
        head = client.head(location)
        assert head.headers["accept-ranges"] == "bytes"
        etag, modified = head.headers["etag"], head.headers["last-modified"]
        assert etag.startswith('"') and modified.endswith(" GMT")

        part = client.get(location, headers={"Range": "bytes=10-19"})
        assert part.status_code == 206
        assert part.headers["content-range"].startswith("bytes 10-19/")
        assert part.content == content(seed_of(location), 10, 10)

        for validator in (etag, modified):
            same = client.get(location, headers={"Range": "bytes=10-19", "If-Range": validator})
            assert (same.status_code, same.content) == (206, part.content)
        size = int(head.headers["content-length"])
        with client.stream(
            "GET", location, headers={"Range": "bytes=10-19", "If-Range": '"changed"'}
        ) as whole:
            assert whole.status_code == 200
            assert int(whole.headers["content-length"]) == size
            assert "content-range" not in whole.headers

        beyond = client.get(location, headers={"Range": f"bytes={size}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{size}"


def test_the_rate_per_connection_is_never_exceeded(client: httpx.Client) -> None:
    # A lower bound only: a loaded machine can make a transfer slower, never
    # faster. How close to the rate it stays is a figure of the benchmarks.
    rate = 200_000
    with Emulator(faults=Faults(dl_rate=rate)) as emu:
        location = location_of(client, emu)
        started = time.monotonic()
        part = client.get(location, headers={"Range": f"bytes=0-{rate - 1}"})
        elapsed = time.monotonic() - started
    assert len(part.content) == rate
    assert elapsed >= 0.97, elapsed


def open_stream(stack: ExitStack, client: httpx.Client, location: str) -> httpx.Response:
    return stack.enter_context(client.stream("GET", location))


def test_connections_per_file_beyond_the_limit_are_503(client: httpx.Client) -> None:
    with Emulator(faults=Faults(dl_max_per_file=2)) as emu, httpx.Client(timeout=10) as own:
        location = location_of(client, emu)
        with ExitStack() as stack:
            first = open_stream(stack, own, location)
            second = open_stream(stack, own, location)
            assert (first.status_code, second.status_code) == (200, 200)
            refused = own.get(location)
            assert refused.status_code == 503
            assert int(refused.headers["retry-after"]) > 0
            # Another file from the same client is no concern of the per-file limit.
            assert open_stream(stack, own, location_of(client, emu, "other.zip")).status_code == 200
            second.close()
            wait_for(lambda: emu.stats.active_downloads == 2)
            assert open_stream(stack, own, location).status_code == 200
        wait_for(lambda: emu.stats.active_downloads == 0)


def test_connections_per_client_beyond_the_limit_are_429(client: httpx.Client) -> None:
    with Emulator(faults=Faults(dl_max_per_client=2)) as emu, httpx.Client(timeout=10) as own:
        locations = [location_of(client, emu, f"file{i}.zip") for i in range(3)]
        with ExitStack() as stack:
            first = open_stream(stack, own, locations[0])
            assert open_stream(stack, own, locations[1]).status_code == 200
            refused = own.get(locations[2])
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) > 0
            first.close()
            wait_for(lambda: emu.stats.active_downloads == 1)
            assert open_stream(stack, own, locations[2]).status_code == 200
        # A HEAD holds no connection, so it is never refused for one.
        assert own.head(locations[0]).status_code == 200


def received(location: str, last: int = 999_999) -> bytes:
    """The body of bytes 0..last as far as it came, checked for a cut (if it ends early)."""
    got = bytearray()
    with (
        httpx.Client(timeout=10) as own,
        own.stream("GET", location, headers={"Range": f"bytes=0-{last}"}) as response,
    ):
        assert response.status_code == 206
        try:
            for chunk in response.iter_raw():
                got += chunk
        except httpx.RemoteProtocolError:
            assert len(got) <= last
        else:
            assert len(got) == last + 1
    assert got == content(seed_of(location), 0, len(got))
    return bytes(got)


def received_before_the_drop(seed: int) -> bytes:
    faults = Faults(dl_drop_after=1.0, seed=seed)
    with Emulator(faults=faults) as emu, httpx.Client(timeout=10) as own:
        return received(location_of(own, emu))


def test_dropped_connections_end_at_a_seeded_offset() -> None:
    first = received_before_the_drop(seed=5)
    assert len(first) < 1_000_000
    assert received_before_the_drop(seed=5) == first
    assert len(received_before_the_drop(seed=6)) != len(first)


def test_drops_fall_within_a_byte_range() -> None:
    faults = Faults(dl_drop_after=1.0, dl_drop_min_bytes=1000, dl_drop_max_bytes=2000)
    with Emulator(faults=faults) as emu, httpx.Client(timeout=10) as own:
        location = location_of(own, emu)
        lengths = {len(received(location)) for _ in range(5)}
        assert all(1000 <= n <= 2000 for n in lengths) and len(lengths) > 1
        # A body shorter than the cut comes whole.
        assert len(received(location, last=499)) == 500


def test_a_location_expires_by_the_emulator_clock(client: httpx.Client) -> None:
    clock = FakeClock()
    with Emulator(clock=clock, faults=Faults(dl_expire_minutes=20)) as emu:
        location = location_of(client, emu)
        assert client.get(location, headers={"Range": "bytes=0-9"}).status_code == 206
        clock.now += 20 * 60 - 1
        assert client.head(location).status_code == 200
        clock.now += 2
        assert client.get(location, headers={"Range": "bytes=0-9"}).status_code == 410
        # Unlocked again (free within the service's 30 minutes), the new location works.
        fresh = location_of(client, emu)
        assert fresh != location
        assert client.get(fresh, headers={"Range": "bytes=0-9"}).status_code == 206


def disposition(header: str) -> tuple[str, str]:
    """The quoted fallback and the decoded filename* (else the fallback) of a disposition."""
    assert header.startswith('attachment; filename="')
    fallback, _, star = header.removeprefix('attachment; filename="').partition('"; filename*=')
    if not star:
        return fallback.removesuffix('"'), fallback.removesuffix('"')
    assert star.startswith("UTF-8''")
    return fallback, unquote(star.removeprefix("UTF-8''"), errors="strict")


@pytest.mark.parametrize("kind", sorted(HOSTILE_NAMES))
def test_hostile_names_are_served_exactly(client: httpx.Client, kind: str) -> None:
    with Emulator() as emu:
        result = unlock(client, emu, f"name-{kind}/movie.mkv")
        head = client.head(str(result["location"]))
    assert head.status_code == 200
    raw = head.headers.raw
    header = next(v for k, v in raw if k.lower() == b"content-disposition").decode("ascii")
    assert not any(ord(c) < 0x20 or c == "\x7f" for c in header)
    fallback, name = disposition(header)
    assert name == HOSTILE_NAMES[kind]
    assert result["filename"] == "movie.mkv" != name
    assert all(0x20 <= ord(c) < 0x7F for c in fallback)


def test_the_hostile_names_are_hostile() -> None:
    names = HOSTILE_NAMES.values()
    assert any("/" in n for n in names) and any("\\" in n for n in names)
    assert ".." in names
    assert any("\r\n" in n for n in names) and any("\x00" in n for n in names)
    assert any(len(n) == 1000 for n in names)
    assert any(not n.isascii() for n in names)


def test_separators_reach_the_fallback_as_they_are(client: httpx.Client) -> None:
    with Emulator() as emu:
        head = client.head(location_of(client, emu, "name-separators/movie.mkv"))
    fallback, name = disposition(head.headers["content-disposition"])
    assert fallback == name == HOSTILE_NAMES["separators"]


@contextmanager
def emulator_command(tmp_path: Path, *flags: str) -> Iterator[str]:
    """`linkdeck emulator --port 0 FLAGS` in a subprocess: its API URL, while it runs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tui", "emulator", "--port", "0", *flags],
        env=isolated_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("linkdeck emulator listening on "), process.stderr
        yield line.split()[-1]
    finally:
        process.kill()
        process.communicate()


def command_location(url: str, path: str) -> str:
    link = f"https://rapidgator.net/file/{RG_ID}/{path}"
    params = {"method": "directdownloadlink", "params[link]": link, **LOGIN}
    return str(httpx.get(url, params=params, timeout=10).json()["result"]["location"])


def test_the_command_takes_the_limits_rate_and_expiry(tmp_path: Path) -> None:
    flags = ("--dl-max-per-file", "1", "--dl-max-per-client", "2", "--dl-rate", "1000")
    with (
        emulator_command(tmp_path, *flags, "--dl-expire-minutes", "5") as url,
        httpx.Client(timeout=10) as own,
        ExitStack() as stack,
    ):
        first, second, third = (command_location(url, f"f{i}.zip") for i in range(3))
        assert "issued=" in first  # an expiring location carries its unlock time
        held = open_stream(stack, own, first)
        # Kept: a reader dropped would close its stream, and the server would
        # count one connection less.
        reading = held.iter_raw(chunk_size=100)
        chunk = next(reading)
        assert (held.status_code, len(chunk)) == (200, 100)
        assert own.get(first).status_code == 503
        assert open_stream(stack, own, second).status_code == 200
        # A stream too: a 200 at 1,000 B/s would otherwise be read for hours.
        assert open_stream(stack, own, third).status_code == 429
        del reading


def test_the_command_takes_drops(tmp_path: Path) -> None:
    with emulator_command(tmp_path, "--dl-drop-after", "1") as url:
        assert len(received(command_location(url, "movie.mkv"))) < 1_000_000
    with emulator_command(tmp_path, "--dl-drop-after", "100-200") as url:
        assert 100 <= len(received(command_location(url, "movie.mkv"))) <= 200


@pytest.mark.parametrize(
    "flag",
    [
        ["--dl-drop-after", "1.5"],
        ["--dl-drop-after", "200-100"],
        ["--dl-rate", "-1"],
        ["--dl-expire-minutes", "nan"],
    ],
)
def test_the_command_refuses_values_it_cannot_use(tmp_path: Path, flag: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui", "emulator", "--port", "0", *flag],
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert flag[0] in result.stderr and "unrecognized" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_scenario_sets_the_download_faults() -> None:
    scenario = parse_scenario("[faults]\ndl_rate = 1000\ndl_drop_after = 0.5\n")
    assert (scenario.faults.dl_rate, scenario.faults.dl_drop_after) == (1000, 0.5)
    with pytest.raises(ScenarioError, match=r"faults\.dl_drop_after"):
        parse_scenario("[faults]\ndl_drop_after = 1.5\n")
