"""Each emulator fault, seen by a plain httpx client over loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tui.emulator import Emulator, Faults

LOGIN = {"params[login]": "111111111", "params[pass]": "1111"}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def get(client: httpx.Client, emu: Emulator, method: str = "accountstatus") -> httpx.Response:
    return client.get(emu.url, params={"method": method, **LOGIN})


def test_latency_and_jitter(emu: Emulator, client: httpx.Client) -> None:
    emu.faults.latency_ms = 150
    emu.faults.jitter_ms = 100
    timings = []
    for _ in range(3):
        started = time.monotonic()
        assert get(client, emu).status_code == 200
        timings.append(time.monotonic() - started)
    # The lower bound is the fault; the upper one only tells latency from a hang.
    assert all(0.15 <= t < 5 for t in timings)


def statuses(faults: Faults, count: int = 40) -> list[int]:
    with Emulator(faults=faults) as emulator, httpx.Client(timeout=5) as client:
        return [get(client, emulator).status_code for _ in range(count)]


def test_error_rate_is_deterministic() -> None:
    first = statuses(Faults(error_rate=0.4, seed=7))
    assert first == statuses(Faults(error_rate=0.4, seed=7))
    assert set(first) == {200, 502, 503}
    assert 5 <= sum(s != 200 for s in first) <= 30
    assert set(statuses(Faults(error_rate=1.0), 10)) <= {502, 503}


def test_error_rate_answers_carry_the_envelope(emu: Emulator, client: httpx.Client) -> None:
    emu.faults = Faults(error_rate=1.0)
    response = get(client, emu)
    body = response.json()
    assert body["status"] == response.status_code
    assert body["result"] == [] and body["statusmessage"]


def test_malformed_json(emu: Emulator, client: httpx.Client) -> None:
    emu.faults.malformed_json = True
    response = get(client, emu)
    assert response.status_code == 200
    assert response.content.startswith(b'{"result":')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_html_error_page(emu: Emulator, client: httpx.Client) -> None:
    emu.faults.html_error_page = True
    response = get(client, emu, "hosterlist")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert b"<center>nginx</center>" in response.content


def test_connection_reset(emu: Emulator, client: httpx.Client) -> None:
    emu.faults.connection_reset = True
    with pytest.raises(httpx.TransportError):
        get(client, emu)
    emu.faults.connection_reset = False
    assert get(client, emu).status_code == 200


def test_hang_trips_client_timeout_and_stop_is_prompt(emu: Emulator) -> None:
    emu.faults.hang_seconds = 30
    with httpx.Client(timeout=0.3) as short, pytest.raises(httpx.TimeoutException):
        get(short, emu)
    started = time.monotonic()
    emu.stop()
    assert time.monotonic() - started < 10  # far less than the 30 s hang


def test_stop_ends_a_hanging_request(emu: Emulator) -> None:
    emu.faults.hang_seconds = 30
    outcome: list[BaseException | httpx.Response] = []

    def hang() -> None:
        with httpx.Client(timeout=20) as slow:
            try:
                outcome.append(get(slow, emu))
            except httpx.TransportError as exc:
                outcome.append(exc)

    thread = threading.Thread(target=hang)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    emu.stop()
    thread.join(timeout=5)
    assert time.monotonic() - started < 10  # not the client's 20 s: stop ended the hang
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.TransportError)


def test_huge_body_is_still_a_valid_answer(emu: Emulator, client: httpx.Client) -> None:
    emu.faults.huge_body_bytes = 5_000_000
    response = get(client, emu)
    assert len(response.content) == 5_000_000
    body = response.json()
    assert body["status"] == 200 and body["result"]["account_name"] == "111111111"


def test_generated_hosters_are_many_and_fast(emu: Emulator, client: httpx.Client) -> None:
    emu.faults.generated_hosters = 100_000
    result = get(client, emu, "hosterlist").json()["result"]
    assert len(result["hosters"]) == len(result["hosterlist"]) == 100_000
    entry = result["hosters"]["host00042.example"]
    assert entry["tlds"] == ["host00042.example", "host00042.example.net"]
    assert entry["regexes"] and "host00042" in entry["regexes"][0]
    assert get(client, emu, "hosterlist").json()["result"] == result  # served from its cache


def test_faults_from_the_constructor_are_a_copy() -> None:
    faults = Faults(html_error_page=True)
    with Emulator(faults=faults) as emulator, httpx.Client(timeout=5) as client:
        assert get(client, emulator).status_code == 502
        emulator.faults.html_error_page = False
        assert get(client, emulator).status_code == 200
    assert faults.html_error_page is True


def test_faults_do_not_touch_downloads(emu: Emulator, client: httpx.Client) -> None:
    link = "https://rapidgator.net/file/0123456789abcdef0123456789abcdef/a.rar"
    params = {"method": "directdownloadlink", "params[link]": link, **LOGIN}
    location = client.get(emu.url, params=params).json()["result"]["location"]
    emu.faults = Faults(html_error_page=True, malformed_json=True)
    part = client.get(location, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and len(part.content) == 10
