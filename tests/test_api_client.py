"""The API client against the emulator over real loopback HTTP: every status code
of the spec and the undocumented ones, the success models of every account, an
injected httpx client, transport errors, malformed and oversized bodies, and the
refusal to send the PIN in clear text."""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tui.api import (
    AccountStatus,
    ApiClient,
    ApiError,
    Credentials,
    DirectLink,
    FairUseExhausted,
    FileNotFound,
    Forbidden,
    HosterList,
    HosterUnavailable,
    InsecureTransport,
    InvalidLink,
    LoginFailed,
    MalformedResponse,
    PaymentRequired,
    TemporaryError,
    TransportError,
    UndocumentedError,
    UnknownTechnicalError,
    check_transport,
    is_loopback,
)
from tui.api.parse import MAX_BODY_BYTES
from tui.emulator import Emulator
from tui.unlock.policy import FIXED_BY_SETTINGS, LOGIN_FAILED, RETRY, outcome_of, rule_for

PREMIUM = ("111111111", "1111")
FREE = ("222222222", "2222")
TRIAL = ("333333333", "3333")
PREPAID = ("444444444", "4444")
EXHAUSTED = ("555555555", "5555")
ACCOUNTS = {"premium": PREMIUM, "free": FREE, "trial": TRIAL, "prepaid": PREPAID}
RG_ID = "0123456789abcdef0123456789abcdef"
SHARE_ONLINE = "https://www.share-online.biz/dl/ABCDEF123456"  # the scenario's 428 hoster
NO_HOSTER = "https://example.org/some/file.zip"

# Building an SSL context costs ~35 ms; every injected httpx client shares this one.
SSL_CONTEXT = ssl.create_default_context()


def rg(path: str = "movie.mkv") -> str:
    """A rapidgator.net link; markers like /missing/ go in the path."""
    return f"https://rapidgator.net/file/{RG_ID}/{path}"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def client_for(url: str, account: tuple[str, str] = PREMIUM, **kwargs: object) -> ApiClient:
    return ApiClient(url, Credentials(*account), **kwargs)  # type: ignore[arg-type]


def closed_port() -> tuple[socket.socket, int]:
    """A bound socket that does not listen: connecting to it is refused, and the
    port stays reserved while the socket is open."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


Responder = Callable[[str], tuple[int, dict[str, str], bytes]]


@contextlib.contextmanager
def tiny_server(respond: Responder) -> Iterator[str]:
    """A loopback HTTP server answering every GET with ``respond(path)``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status, headers, body = respond(self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/pm-api/v1.php"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def envelope(status: int, message: str, result: object = None) -> bytes:
    """The service's envelope; errors came with an empty array as result."""
    result = [] if result is None else result
    return json.dumps({"result": result, "status": status, "statusmessage": message}).encode()


# --- every status code through the client ------------------------------------

# (account, link, error class, status, its key in the policy's RULES)
UNLOCK_ERRORS = [
    pytest.param(PREMIUM, NO_HOSTER, InvalidLink, 400, 400, id="400"),
    pytest.param((PREMIUM[0], "0000"), rg(), LoginFailed, 401, 401, id="401"),
    pytest.param(FREE, rg(), PaymentRequired, 402, 402, id="402"),
    pytest.param(PREMIUM, rg("forbidden/a.zip"), Forbidden, 403, 403, id="403"),
    pytest.param(PREMIUM, rg("missing/a.zip"), FileNotFound, 404, 404, id="404"),
    pytest.param(PREMIUM, SHARE_ONLINE, HosterUnavailable, 428, 428, id="428"),
    pytest.param(PREMIUM, rg("broken/a.zip"), UnknownTechnicalError, 502, 502, id="502"),
    pytest.param(PREMIUM, rg("busy/a.zip"), TemporaryError, 503, 503, id="503"),
    pytest.param(EXHAUSTED, rg(), FairUseExhausted, 509, 509, id="509"),
    pytest.param(PREMIUM, rg("daily-limit/a.zip"), UndocumentedError, 0, "client error", id="0"),
    pytest.param(PREMIUM, rg("strange/a.zip"), UndocumentedError, 2, "client error", id="2"),
    pytest.param(PREMIUM, rg("link-limit/a.zip"), UndocumentedError, 500, "server error", id="500"),
]


@pytest.mark.parametrize(("account", "link", "error", "status", "outcome"), UNLOCK_ERRORS)
async def test_every_status_code_is_a_typed_error(
    emu: Emulator,
    account: tuple[str, str],
    link: str,
    error: type[ApiError],
    status: int,
    outcome: int | str,
) -> None:
    async with client_for(emu.url, account) as client:
        with pytest.raises(error) as caught:
            await client.direct_download_link(link)
    exc = caught.value
    assert type(exc) is error
    assert exc.status == status
    assert outcome_of(exc) == outcome
    assert str(exc).startswith(f"{status} ")
    assert emu.stats.calls["directdownloadlink"] == 1


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("daily-limit/a.zip", "Daily limit reached for this host!"),
        ("strange/a.zip", "strange error"),
        ("link-limit/a.zip", "Link limit reached"),
    ],
)
async def test_undocumented_codes_show_the_servers_message(
    emu: Emulator, link: str, message: str
) -> None:
    async with client_for(emu.url) as client:
        with pytest.raises(UndocumentedError) as caught:
            await client.direct_download_link(rg(link))
    assert caught.value.server_message == message
    assert message in str(caught.value)


@pytest.mark.parametrize("call", ["account_status", "hoster_list"])
async def test_wrong_pin_is_login_failed_for_every_call(emu: Emulator, call: str) -> None:
    async with client_for(emu.url, ("111111111", "0000")) as client:
        with pytest.raises(LoginFailed) as caught:
            await getattr(client, call)()
    assert caught.value.status == 401
    assert rule_for(caught.value).pause == LOGIN_FAILED


async def test_unknown_login_is_login_failed(emu: Emulator) -> None:
    async with client_for(emu.url, ("987654321", "1111")) as client:
        with pytest.raises(LoginFailed):
            await client.account_status()


async def test_flaky_link_is_temporary_twice_then_unlocks(emu: Emulator) -> None:
    link = rg("flaky/a.zip")
    async with client_for(emu.url) as client:
        for _ in range(2):
            with pytest.raises(TemporaryError) as caught:
                await client.direct_download_link(link)
            assert rule_for(caught.value) is RETRY
        unlocked = await client.direct_download_link(link)
    assert unlocked.location.startswith(emu.base_url + "/dl/")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidLink),
        (401, LoginFailed),
        (402, PaymentRequired),
        (403, Forbidden),
        (404, FileNotFound),
        (428, HosterUnavailable),
        (502, UnknownTechnicalError),
        (503, TemporaryError),
        (509, FairUseExhausted),
        (0, UndocumentedError),
        (2, UndocumentedError),
        (500, UndocumentedError),
    ],
)
async def test_http_200_with_an_error_status_in_the_json(
    status: int, error: type[ApiError]
) -> None:
    """Not every deployment mirrored the status in HTTP: 200 + error JSON works too."""
    body = envelope(status, "from the JSON")

    with tiny_server(lambda _path: (200, {"Content-Type": "application/json"}, body)) as url:
        async with client_for(url) as client:
            with pytest.raises(error) as caught:
                await client.direct_download_link(rg())
    assert caught.value.status == status


async def test_http_error_status_with_a_success_json_is_a_success() -> None:
    """Only the JSON status counts when there is an envelope."""
    result = {"location": "https://dl.example/x", "filename": "x.bin", "filesize": 3}
    body = envelope(200, "OK", result)
    with tiny_server(lambda _path: (503, {"Content-Type": "application/json"}, body)) as url:
        async with client_for(url) as client:
            unlocked = await client.direct_download_link(rg())
    assert unlocked == DirectLink("https://dl.example/x", "x.bin", 3)


# --- success models ------------------------------------------------------------


async def test_account_status_of_every_account(emu: Emulator) -> None:
    now = time.time()
    seen: dict[str, AccountStatus] = {}
    for name, account in {**ACCOUNTS, "exhausted": EXHAUSTED}.items():
        async with client_for(emu.url, account) as client:
            seen[name] = await client.account_status()

    premium = seen["premium"]
    assert premium.account_name == "111111111"
    assert premium.type == "premium"
    assert premium.can_download
    assert premium.fairuse_left == pytest.approx(0.77)
    assert premium.expires is not None
    assert abs(premium.expires - (now + 30 * 86400)) < 120
    assert premium.extuid == "pm-7f3a9c21"

    free = seen["free"]
    assert (free.account_name, free.type, free.can_download) == ("222222222", "free", False)

    trial = seen["trial"]
    assert trial.type == "trial" and trial.can_download
    assert trial.expires is not None
    assert abs(trial.expires - (now + 2 * 86400)) < 120

    prepaid = seen["prepaid"]
    assert prepaid.type == "prepaid" and prepaid.can_download
    assert prepaid.expires is None
    assert prepaid.fairuse_left == pytest.approx(0.42)

    exhausted = seen["exhausted"]
    assert exhausted.fairuse_left == 0.0 and exhausted.can_download


@pytest.mark.parametrize(("stored", "shown"), [(1.7, 1.0), (-0.25, 0.0), (0.5, 0.5)])
async def test_fairuse_left_is_clamped(emu: Emulator, stored: float, shown: float) -> None:
    emu.account(PREMIUM[0]).fairuse_left = stored  # a server breaking its own promise
    async with client_for(emu.url) as client:
        account = await client.account_status()
    assert account.fairuse_left == shown


@pytest.mark.parametrize("account", [*ACCOUNTS.values(), EXHAUSTED], ids=[*ACCOUNTS, "exhausted"])
async def test_hoster_list_for_every_account(emu: Emulator, account: tuple[str, str]) -> None:
    async with client_for(emu.url, account) as client:
        hosters = await client.hoster_list()
    assert isinstance(hosters, HosterList)
    names = [h.name for h in hosters.hosters]
    assert len(names) >= 60
    assert names == sorted(names, key=str.casefold)
    by_name = {h.name: h for h in hosters.hosters}
    rapidgator = by_name["rapidgator.net"]
    assert len(rapidgator.regexes) == 2  # the broken regex is served as-is
    assert "rapidgator.host" in rapidgator.tlds
    fichier = by_name["1fichier.com"].connection_settings
    assert fichier is not None
    assert (fichier.max_connections_per_file, fichier.resume) == (1, True)
    default = hosters.default_connection_settings
    assert default is not None
    assert (default.max_connections_per_file, default.max_connections_per_hoster) == (4, 10)


@pytest.mark.parametrize("name", ["premium", "trial", "prepaid"])
async def test_direct_link_for_every_account_that_can_download(emu: Emulator, name: str) -> None:
    async with client_for(emu.url, ACCOUNTS[name]) as client:
        before = await client.account_status()
        unlocked = await client.direct_download_link(rg("holiday.mkv"))
        after = await client.account_status()
    assert isinstance(unlocked, DirectLink)
    assert unlocked.location.startswith(emu.base_url + "/dl/")
    assert unlocked.filename
    assert isinstance(unlocked.filesize, int) and unlocked.filesize > 0
    assert after.fairuse_left < before.fairuse_left
    assert emu.stats.unlocked_links == [rg("holiday.mkv")]


async def test_the_free_account_cannot_unlock(emu: Emulator) -> None:
    async with client_for(emu.url, FREE) as client:
        with pytest.raises(PaymentRequired):
            await client.direct_download_link(rg())


async def test_the_exhausted_account_cannot_unlock(emu: Emulator) -> None:
    async with client_for(emu.url, EXHAUSTED) as client:
        with pytest.raises(FairUseExhausted):
            await client.direct_download_link(rg())


async def test_a_large_but_valid_body_under_the_cap_is_read(emu: Emulator) -> None:
    emu.faults.huge_body_bytes = 200_000  # padded with an unknown field, still valid
    async with client_for(emu.url) as client:
        account = await client.account_status()
    assert account.account_name == PREMIUM[0]


async def test_a_gzip_encoded_answer_is_decoded() -> None:
    """Real deployments behind nginx compress JSON: the client must decode it."""
    result = {"account_name": "1", "type": "prepaid", "expires": None, "fairuse_left": 0.5}
    body = gzip.compress(envelope(200, "OK", result))
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    with tiny_server(lambda _path: (200, headers, body)) as url:
        async with client_for(url) as client:
            account = await client.account_status()
    assert account == AccountStatus("1", "prepaid", None, 0.5)


async def test_a_body_that_does_not_decode_is_a_malformed_response() -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    with tiny_server(lambda _path: (200, headers, b"not gzip at all")) as url:
        async with client_for(url) as client:
            with pytest.raises(MalformedResponse, match="could not be decoded") as caught:
                await client.account_status()
    assert caught.value.__context__ is None


async def test_the_cap_counts_decoded_bytes() -> None:
    """A small compressed body that inflates past the cap is refused."""
    body = gzip.compress(b" " * 50_000 + envelope(200, "OK", {}))
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    with tiny_server(lambda _path: (200, headers, body)) as url:
        async with client_for(url, max_body_bytes=10_000) as client:
            with pytest.raises(MalformedResponse, match="larger than 10000 bytes"):
                await client.account_status()
    assert len(body) < 10_000


# --- the request -----------------------------------------------------------------


async def test_request_is_a_get_with_method_and_params() -> None:
    seen: list[str] = []

    def respond(path: str) -> tuple[int, dict[str, str], bytes]:
        seen.append(path)
        return 200, {}, envelope(200, "OK", {"location": "https://dl.example/x"})

    with tiny_server(respond) as url:
        async with client_for(url, ("123456789", "4321")) as client:
            await client.direct_download_link("https://host.example/a?b=c&d=e")
    request = httpx.URL(seen[0])
    assert request.path == "/pm-api/v1.php"
    assert dict(request.params) == {
        "method": "directdownloadlink",
        "params[login]": "123456789",
        "params[pass]": "4321",
        "params[link]": "https://host.example/a?b=c&d=e",
    }


# --- the injected httpx client --------------------------------------------------


async def test_an_injected_http_client_is_used_and_not_closed(emu: Emulator) -> None:
    requests: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        requests.append(request)

    async with httpx.AsyncClient(
        verify=SSL_CONTEXT, timeout=5, event_hooks={"request": [record]}
    ) as http:
        async with client_for(emu.url, http=http) as client:
            account = await client.account_status()
            await client.hoster_list()
        assert account.account_name == PREMIUM[0]
        assert len(requests) == 2
        assert not http.is_closed
        # Still usable by its owner after the ApiClient is gone.
        response = await http.get(emu.base_url + "/nothing-here")
        assert response.status_code == 404
    assert http.is_closed


async def test_an_own_http_client_is_closed(emu: Emulator) -> None:
    client = client_for(emu.url)
    async with client:
        await client.account_status()
    assert client._http.is_closed


# --- transport errors and malformed bodies ------------------------------------


async def test_connection_refused_is_a_transport_error() -> None:
    sock, port = closed_port()
    with sock:
        async with client_for(f"http://127.0.0.1:{port}/pm-api/v1.php") as client:
            with pytest.raises(TransportError) as caught:
                await client.account_status()
    exc = caught.value
    assert exc.status is None
    assert rule_for(exc) is RETRY
    assert "connection failed" in str(exc)
    assert f"127.0.0.1:{port}" in str(exc)


async def test_timeout_is_a_transport_error(emu: Emulator) -> None:
    emu.faults.hang_seconds = 60
    started = time.monotonic()
    async with client_for(emu.url, timeout=0.2) as client:
        with pytest.raises(TransportError, match="timed out") as caught:
            await client.account_status()
    assert time.monotonic() - started < 30  # the client's timeout, not the hang
    assert rule_for(caught.value) is RETRY


async def test_connection_reset_is_a_transport_error(emu: Emulator) -> None:
    emu.faults.connection_reset = True
    async with client_for(emu.url) as client:
        with pytest.raises(TransportError) as caught:
            await client.direct_download_link(rg())
    assert rule_for(caught.value) is RETRY


async def test_malformed_json_is_a_malformed_response(emu: Emulator) -> None:
    emu.faults.malformed_json = True
    async with client_for(emu.url) as client:
        for call in (client.account_status, client.hoster_list):
            with pytest.raises(MalformedResponse, match="not JSON") as caught:
                await call()
            assert caught.value.status is None
            assert rule_for(caught.value) is RETRY


async def test_html_error_page_is_a_malformed_response(emu: Emulator) -> None:
    emu.faults.html_error_page = True
    async with client_for(emu.url) as client:
        with pytest.raises(MalformedResponse, match=r"HTML page instead of JSON \(HTTP 502\)"):
            await client.direct_download_link(rg())


async def test_body_over_the_streamed_cap_is_refused(emu: Emulator) -> None:
    emu.faults.huge_body_bytes = MAX_BODY_BYTES + 1024
    async with client_for(emu.url) as client:
        with pytest.raises(MalformedResponse, match="larger than 4 MB"):
            await client.account_status()


async def test_body_over_the_parser_cap_is_refused_even_with_a_larger_stream_cap(
    emu: Emulator,
) -> None:
    emu.faults.huge_body_bytes = MAX_BODY_BYTES + 1024
    async with client_for(emu.url, max_body_bytes=2 * MAX_BODY_BYTES) as client:
        with pytest.raises(MalformedResponse, match="larger than 4 MB"):
            await client.account_status()


async def test_a_small_stream_cap_stops_reading_early(emu: Emulator) -> None:
    async with client_for(emu.url, max_body_bytes=4096) as client:
        with pytest.raises(MalformedResponse, match="larger than 4096 bytes"):
            await client.hoster_list()  # ~20 kB
        assert (await client.account_status()).account_name == PREMIUM[0]


async def test_a_very_large_hoster_list_within_the_cap(emu: Emulator) -> None:
    emu.faults.generated_hosters = 2000
    async with client_for(emu.url) as client:
        hosters = await client.hoster_list()
    assert len(hosters.hosters) == 2000


async def test_the_client_recovers_when_the_service_comes_back(emu: Emulator) -> None:
    async with client_for(emu.url) as client:
        emu.stop()
        with pytest.raises(TransportError):
            await client.account_status()
        emu.start()
        assert (await client.account_status()).type == "premium"


# --- transport security ---------------------------------------------------------


class _ToEmulator(httpx.AsyncBaseTransport):
    """Sends every request, whatever its host, to the emulator on loopback: lets a
    test use a non-loopback URL and still see whether anything was sent."""

    def __init__(self, emu: Emulator) -> None:
        self._emu = emu
        self._inner = httpx.AsyncHTTPTransport(verify=SSL_CONTEXT)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host=self._emu.host, port=self._emu.port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.mark.parametrize(
    "url",
    [
        "http://192.0.2.10/pm-api/v1.php",
        "http://api.example.com/pm-api/v1.php",
        "http://10.0.0.1:8080/pm-api/v1.php",
    ],
)
async def test_plain_http_to_a_remote_host_is_refused_before_any_request(
    emu: Emulator, url: str
) -> None:
    http = httpx.AsyncClient(transport=_ToEmulator(emu))
    async with http, client_for(url, http=http) as client:
        for call in (
            client.account_status,
            client.hoster_list,
            lambda: client.direct_download_link(rg()),
        ):
            with pytest.raises(InsecureTransport) as caught:
                await call()
            assert rule_for(caught.value).pause in FIXED_BY_SETTINGS
            assert "allow_insecure_http" in str(caught.value)
    assert sum(emu.stats.calls.values()) == 0


async def test_plain_http_to_a_remote_host_when_allowed(emu: Emulator) -> None:
    async with httpx.AsyncClient(transport=_ToEmulator(emu)) as http:
        url = "http://api.example.com/pm-api/v1.php"
        async with client_for(url, http=http, allow_insecure_http=True) as client:
            account = await client.account_status()
    assert account.account_name == PREMIUM[0]
    assert emu.stats.calls["accountstatus"] == 1


async def test_https_to_a_remote_host_is_sent(emu: Emulator) -> None:
    http = httpx.AsyncClient(transport=_ToEmulator(emu))
    async with http, client_for("https://api.example.com/pm-api/v1.php", http=http) as client:
        await client.account_status()
    assert emu.stats.calls["accountstatus"] == 1


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.example.com/pm-api/v1.php", True),
        ("http://127.0.0.1:8765/pm-api/v1.php", True),
        ("http://127.5.6.7/pm-api/v1.php", True),
        ("http://localhost:8765/pm-api/v1.php", True),
        ("http://[::1]:8765/pm-api/v1.php", True),
        ("http://api.example.com/pm-api/v1.php", False),
        ("http://192.168.1.2/pm-api/v1.php", False),
        ("http://[2001:db8::1]/pm-api/v1.php", False),
        ("ftp://api.example.com/pm-api/v1.php", False),
        ("https:///pm-api/v1.php", False),
        ("api.example.com/pm-api/v1.php", False),
    ],
)
def test_check_transport(url: str, allowed: bool) -> None:
    if allowed:
        check_transport(url)
    else:
        with pytest.raises(InsecureTransport):
            check_transport(url)


def test_allow_insecure_http_only_lifts_the_plain_http_rule() -> None:
    check_transport("http://api.example.com/pm-api/v1.php", allow_insecure_http=True)
    with pytest.raises(InsecureTransport):
        check_transport("ftp://api.example.com/pm-api/v1.php", allow_insecure_http=True)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("[::1]", True),
        ("::1", True),
        ("10.0.0.1", False),
        ("example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_repr_shows_url_and_login_only() -> None:
    client = client_for("http://127.0.0.1:1/pm-api/v1.php", ("123456789", "secretPIN"))
    assert repr(client) == "ApiClient(url='http://127.0.0.1:1/pm-api/v1.php', login='123456789')"
    assert "secretPIN" not in repr(client.credentials)


async def test_linkdeck_sends_every_call_as_a_get(emu: Emulator) -> None:
    # The service answered POST too (the emulator does); linkdeck never needs it.
    methods: list[str] = []

    async def record(request: httpx.Request) -> None:
        methods.append(request.method)

    http = httpx.AsyncClient(event_hooks={"request": [record]})
    async with ApiClient(emu.url, Credentials(*PREMIUM), http=http) as client:
        await client.account_status()
        await client.hoster_list()
        await client.direct_download_link(rg())
    await http.aclose()
    assert methods == ["GET", "GET", "GET"]
