"""The emulator over real loopback HTTP: request forms, accounts, link outcomes,
fair use, direct downloads, lifecycle and counters."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tui.emulator import Emulator, Faults
from tui.emulator.downloads import remote_file

PREMIUM = ("111111111", "1111")
FREE = ("222222222", "2222")
TRIAL = ("333333333", "3333")
PREPAID = ("444444444", "4444")
EXHAUSTED = ("555555555", "5555")
RG_ID = "0123456789abcdef0123456789abcdef"


def rg(path: str = "movie.mkv") -> str:
    """A rapidgator.net link; markers like /missing/ go in the path."""
    return f"https://rapidgator.net/file/{RG_ID}/{path}"


class FakeClock:
    def __init__(self, now: float = 1_500_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[Emulator]:
    with Emulator(clock=clock) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    # Shared: building an httpx client (its TLS context) costs ~0.1 s.
    with httpx.Client(timeout=5) as c:
        yield c


def call(
    client: httpx.Client,
    emu: Emulator,
    method: str,
    account: tuple[str, str] = PREMIUM,
    link: str | None = None,
) -> httpx.Response:
    params = {"method": method, "params[login]": account[0], "params[pass]": account[1]}
    if link is not None:
        params["params[link]"] = link
    return client.get(emu.url, params=params)


def envelope(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) >= {"result", "status", "statusmessage"}
    assert isinstance(body["status"], int)
    assert isinstance(body["statusmessage"], str)
    return body


# --- request forms -----------------------------------------------------------


def test_the_three_url_forms_of_the_notes_give_the_same_answer(
    emu: Emulator, client: httpx.Client
) -> None:
    raw = f"{emu.url}?method=accountstatus&params[login]=111111111&params[pass]=1111"
    encoded = f"{emu.url}?method=accountstatus&params%5Blogin%5D=111111111&params%5Bpass%5D=1111"
    mixed = f"{emu.url}?params%5Bpass%5D=1111&method=accountstatus&params[login]=111111111"
    bodies = []
    for url in (raw, encoded, mixed):
        response = client.get(url)
        assert response.status_code == 200
        bodies.append(envelope(response))
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["status"] == 200 and bodies[0]["statusmessage"] == "OK"
    assert emu.stats.calls["accountstatus"] == 3


def test_link_parameter_percent_encoded_by_hand(emu: Emulator, client: httpx.Client) -> None:
    link = "https%3A%2F%2Frapidgator.net%2Ffile%2F" + RG_ID + "%2Fa.rar"
    url = (
        f"{emu.url}?params%5Blink%5D={link}&method=directdownloadlink"
        "&params[login]=111111111&params[pass]=1111"
    )
    body = envelope(client.get(url))
    assert body["status"] == 200
    assert body["result"]["filename"] == "a.rar"


def test_compact_php_style_json(emu: Emulator, client: httpx.Client) -> None:
    response = call(client, emu, "directdownloadlink", link=rg())
    assert response.headers["content-type"] == "application/json"
    assert b"\n" not in response.content and b": " not in response.content
    assert b"http:\\/\\/" in response.content  # PHP's json_encode escapes slashes


def test_other_paths_are_plain_404(emu: Emulator, client: httpx.Client) -> None:
    response = client.get(emu.base_url + "/pm-api/v2.php?method=accountstatus")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")


def test_unknown_method_is_400(emu: Emulator, client: httpx.Client) -> None:
    response = call(client, emu, "userinfo")
    assert response.status_code == 400 == envelope(response)["status"]


# --- accounts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "kind", "days", "fairuse"),
    [
        (PREMIUM, "premium", 30, 0.77),
        (FREE, "free", None, 1.0),
        (TRIAL, "trial", 2, 1.0),
        (PREPAID, "prepaid", None, None),
        (EXHAUSTED, "premium", 30, 0.0),
    ],
)
def test_accountstatus_of_every_account(
    emu: Emulator,
    client: httpx.Client,
    clock: FakeClock,
    account: tuple[str, str],
    kind: str,
    days: int | None,
    fairuse: float | None,
) -> None:
    response = call(client, emu, "accountstatus", account)
    body = envelope(response)
    assert response.status_code == body["status"] == 200
    result = body["result"]
    assert result["account_name"] == account[0]
    assert result["type"] == kind
    assert result["expires"] == (None if days is None else int(clock.now + days * 86400))
    assert 0.0 <= result["fairuse_left"] <= 1.0
    if fairuse is not None:
        assert result["fairuse_left"] == pytest.approx(fairuse)
    assert result["trafficleft_gigabytes"] == pytest.approx(result["fairuse_left"] * 1000)
    assert result["trafficleft_bytes"] == int(result["trafficleft_gigabytes"] * 2**30)
    assert isinstance(result["extuid"], str) and result["extuid"]


@pytest.mark.parametrize("method", ["accountstatus", "hosterlist", "directdownloadlink"])
@pytest.mark.parametrize("account", [("999999999", "1111"), ("111111111", "9999"), ("", "")])
def test_login_failed_for_every_method(
    emu: Emulator, client: httpx.Client, method: str, account: tuple[str, str]
) -> None:
    response = call(client, emu, method, account, link=rg())
    body = envelope(response)
    assert response.status_code == body["status"] == 401
    assert body["statusmessage"] == "login failed"
    assert body["result"] == []


# --- hosterlist ----------------------------------------------------------------


def test_hosterlist_shape(emu: Emulator, client: httpx.Client) -> None:
    response = call(client, emu, "hosterlist")
    result = envelope(response)["result"]
    hosters = result["hosters"]
    assert len(hosters) >= 60
    assert {"1fichier.com", "uploaded.net", "rapidgator.net", "share-online.biz"} <= set(hosters)
    assert result["hosterlist"] == list(hosters)
    assert result["regexlist"] == [rx for h in hosters.values() for rx in h["regexes"]]
    assert result["tldlist"] == [t for h in hosters.values() for t in h["tlds"]]
    assert "ul.to" in hosters["uploaded.net"]["tlds"]
    assert r"https?://(www\.)?rapidgator\.host/.*)" in hosters["rapidgator.net"]["regexes"]
    settings = result["connection_settings"]
    assert set(settings["all"]) == {
        "max_connections_per_file",
        "max_connections_per_hoster",
        "resume",
    }
    assert len(settings) > 1 and set(settings) - {"all"} <= set(hosters)


# --- link outcomes -----------------------------------------------------------------

OUTCOMES = [
    # (account, link, JSON status, HTTP status, message)
    (FREE, rg(), 402, 402, "payment required"),
    (FREE, "https://example.org/nothing", 402, 402, "payment required"),
    (PREMIUM, "https://example.org/file/abc", 400, 400, "no valid link"),
    (PREMIUM, "", 400, 400, "no valid link"),
    (PREMIUM, "https://www.share-online.biz/dl/ABCDEF1234", 428, 428, None),
    (PREMIUM, rg("missing/a.rar"), 404, 404, None),
    (PREMIUM, rg("forbidden/a.rar"), 403, 403, None),
    (PREMIUM, rg("broken/a.rar"), 502, 502, None),
    (PREMIUM, rg("busy/a.rar"), 503, 503, None),
    (PREMIUM, rg("daily-limit/a.rar"), 0, 200, "Daily limit reached for this host!"),
    (PREMIUM, rg("strange/a.rar"), 2, 200, "strange error"),
    # JDownloader handles status 500 but takes no HTTP 500: the service sent 200.
    (PREMIUM, rg("link-limit/a.rar"), 500, 200, "Link limit reached"),
    (EXHAUSTED, rg(), 509, 509, None),
    (EXHAUSTED, rg("missing/a.rar"), 404, 404, None),
    (PREMIUM, rg(), 200, 200, "OK"),
    (TRIAL, "http://ul.to/abcd1234", 200, 200, "OK"),
    (PREPAID, "https://1fichier.com/?abcdef1234", 200, 200, "OK"),
]


@pytest.mark.parametrize(("account", "link", "status", "http_status", "message"), OUTCOMES)
def test_link_outcomes(
    emu: Emulator,
    client: httpx.Client,
    account: tuple[str, str],
    link: str,
    status: int,
    http_status: int,
    message: str | None,
) -> None:
    response = call(client, emu, "directdownloadlink", account, link)
    body = envelope(response)
    assert body["status"] == status
    assert response.status_code == http_status
    if message is not None:
        assert body["statusmessage"] == message
    if status == 200:
        assert set(body["result"]) >= {"location", "filename", "filesize"}
        assert emu.stats.unlocked_links == [link]
    else:
        # null with status 0, as a real answer quoted in JDownloader's plugin shows.
        assert body["result"] == (None if status == 0 else [])
        assert emu.stats.unlocked_links == []
    assert emu.stats.requested_links == [link]


@pytest.mark.parametrize("form", ["query", "body", "both"])
def test_post_is_answered_like_get(emu: Emulator, client: httpx.Client, form: str) -> None:
    login, pin = PREMIUM
    params = {"method": "accountstatus", "params[login]": login, "params[pass]": pin}
    if form == "query":
        response = client.post(emu.url, params=params)
    elif form == "body":
        response = client.post(emu.url, data=params)
    else:
        response = client.post(emu.url, params={"method": "accountstatus"}, data=params)
    assert response.status_code == 200
    assert envelope(response) == envelope(call(client, emu, "accountstatus"))


def test_flaky_link_fails_twice_then_succeeds(emu: Emulator, client: httpx.Client) -> None:
    link = rg("flaky/a.rar")
    statuses = [call(client, emu, "directdownloadlink", link=link).status_code for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    other = rg("flaky/b.rar")
    assert call(client, emu, "directdownloadlink", link=other).status_code == 503


def test_broken_regex_is_skipped_not_fatal(emu: Emulator, client: httpx.Client) -> None:
    # The only regex naming rapidgator.host is the broken one, so it cannot match.
    response = call(client, emu, "directdownloadlink", link="https://rapidgator.host/file/x")
    assert envelope(response)["status"] == 400
    assert call(client, emu, "directdownloadlink", link=rg()).status_code == 200
    assert emu.stats.errors == []


# --- fair use --------------------------------------------------------------------------


def test_unlock_costs_fair_use_once_per_30_minutes(
    emu: Emulator, client: httpx.Client, clock: FakeClock
) -> None:
    link = rg("movie.mkv")
    file = remote_file(link)
    cost = 2 * file.size / 2**30 / 1000  # rapidgator.net has cost factor 2
    first = envelope(call(client, emu, "directdownloadlink", link=link))["result"]
    assert first["filesize"] == file.size
    assert emu.account(PREMIUM[0]).fairuse_left == pytest.approx(0.77 - cost)

    clock.now += 29 * 60
    again = envelope(call(client, emu, "directdownloadlink", link=link))["result"]
    assert again["location"] == first["location"]
    assert emu.account(PREMIUM[0]).fairuse_left == pytest.approx(0.77 - cost)
    status = envelope(call(client, emu, "accountstatus"))["result"]
    assert status["fairuse_left"] == pytest.approx(0.77 - cost)

    clock.now += 60
    call(client, emu, "directdownloadlink", link=link)
    assert emu.account(PREMIUM[0]).fairuse_left == pytest.approx(0.77 - 2 * cost)

    # The free window is per account.
    call(client, emu, "directdownloadlink", TRIAL, link)
    assert emu.account(TRIAL[0]).fairuse_left == pytest.approx(1.0 - cost)


def test_fair_use_floors_at_zero_then_509(emu: Emulator, client: httpx.Client) -> None:
    emu.account(PREMIUM[0]).fairuse_left = 1e-9
    assert call(client, emu, "directdownloadlink", link=rg("a.rar")).status_code == 200
    assert emu.account(PREMIUM[0]).fairuse_left == 0.0
    body = envelope(call(client, emu, "directdownloadlink", link=rg("b.rar")))
    assert body["status"] == 509
    assert envelope(call(client, emu, "accountstatus"))["result"]["fairuse_left"] == 0.0
    # Re-unlocking within the window is free, so it still works at zero.
    assert call(client, emu, "directdownloadlink", link=rg("a.rar")).status_code == 200


# --- direct downloads ---------------------------------------------------------------


def test_locations_point_back_and_some_pass_255_bytes(emu: Emulator, client: httpx.Client) -> None:
    lengths = []
    for i in range(12):
        result = envelope(call(client, emu, "directdownloadlink", link=rg(f"part{i}.rar")))[
            "result"
        ]
        location = result["location"]
        assert location.startswith(f"http://127.0.0.1:{emu.port}/dl/")
        assert location.endswith(f"/part{i}.rar")
        assert 20 * 10**6 <= result["filesize"] <= 3 * 10**9
        lengths.append(len(location.encode()))
    assert max(lengths) > 255
    assert max(lengths) < 2083


def small_file_link() -> str:
    """A link whose generated file is small enough to download whole in a test."""
    return next(
        link for i in range(10_000) if remote_file(link := rg(f"small{i}.zip")).size < 30 * 10**6
    )


def test_download_with_range(emu: Emulator, client: httpx.Client) -> None:
    link = small_file_link()
    result = envelope(call(client, emu, "directdownloadlink", link=link))["result"]
    location, size = result["location"], result["filesize"]

    head = client.head(location)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == size
    assert head.headers["accept-ranges"] == "bytes"
    assert head.headers["content-disposition"] == f'attachment; filename="{result["filename"]}"'

    full = client.get(location)
    assert full.status_code == 200 and len(full.content) == size
    assert client.get(location).content[:4096] == full.content[:4096]  # deterministic

    first, last = 1_048_000, 2_200_000  # crosses the generator's internal block edge
    part = client.get(location, headers={"Range": f"bytes={first}-{last}"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert part.content == full.content[first : last + 1]

    tail = client.get(location, headers={"Range": "bytes=-1000"})
    assert tail.status_code == 206 and tail.content == full.content[-1000:]
    rest = client.get(location, headers={"Range": f"bytes={size - 10}-"})
    assert rest.status_code == 206 and rest.content == full.content[-10:]

    beyond = client.get(location, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"


def test_download_of_a_made_up_token_is_404(emu: Emulator, client: httpx.Client) -> None:
    location = envelope(call(client, emu, "directdownloadlink", link=rg()))["result"]["location"]
    prefix, _, rest = location.rpartition("/dl/")
    token, _, name = rest.partition("/")
    forged = f"{prefix}/dl/{token[:-1]}{'0' if token[-1] != '0' else '1'}/{name}"
    assert client.get(forged).status_code == 404
    assert client.get(f"{emu.base_url}/dl/nope/file.bin").status_code == 404


# --- lifecycle and counters -----------------------------------------------------------


def test_stop_and_restart_on_the_same_port(emu: Emulator, client: httpx.Client) -> None:
    call(client, emu, "directdownloadlink", link=rg())
    left = emu.account(PREMIUM[0]).fairuse_left
    port = emu.port
    emu.stop()
    emu.stop()  # idempotent
    with pytest.raises(httpx.TransportError):
        call(client, emu, "accountstatus")
    emu.restart()
    assert emu.port == port
    assert call(client, emu, "accountstatus").status_code == 200
    assert emu.account(PREMIUM[0]).fairuse_left == left  # state survives the outage


def test_keep_alive_connections_end_on_stop(emu: Emulator) -> None:
    with httpx.Client(timeout=2) as pooled:
        assert call(pooled, emu, "accountstatus").status_code == 200
        emu.stop()
        with pytest.raises(httpx.TransportError):
            call(pooled, emu, "accountstatus")


async def test_max_concurrent_unlocks_with_latency(emu: Emulator) -> None:
    emu.faults.latency_ms = 300
    links = [rg(f"c{i}.rar") for i in range(6)]
    params = {"method": "directdownloadlink", "params[login]": "111111111", "params[pass]": "1111"}
    async with httpx.AsyncClient(timeout=5) as client:
        responses = await asyncio.gather(
            *(client.get(emu.url, params={**params, "params[link]": link}) for link in links)
        )
        await client.get(emu.url, params={**params, "params[link]": links[0]})
    assert [r.status_code for r in responses] == [200] * 6
    assert emu.stats.max_concurrent_unlocks == 6
    assert emu.stats.calls["directdownloadlink"] == 7
    assert sorted(emu.stats.unlocked_links) == sorted([*links, links[0]])
    emu.reset_stats()
    assert emu.stats.max_concurrent_unlocks == 0
    assert emu.stats.calls == {"accountstatus": 0, "hosterlist": 0, "directdownloadlink": 0}


def test_nothing_reaches_stderr_and_no_pin_anywhere(
    emu: Emulator, client: httpx.Client, capfd: pytest.CaptureFixture[str]
) -> None:
    for method in ("accountstatus", "hosterlist", "directdownloadlink"):
        call(client, emu, method, link=rg())
    call(client, emu, "accountstatus", ("111111111", "wrong"))
    client.get(emu.base_url + "/nowhere")
    emu.faults = Faults(connection_reset=True)
    with pytest.raises(httpx.TransportError):
        call(client, emu, "accountstatus")
    emu.stop()
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert "pin" not in repr(emu.account(PREMIUM[0]))
    assert "pin" not in repr(emu.scenario)
