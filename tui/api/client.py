"""The async client of the legacy API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from tui.api.errors import ApiError, MalformedResponse, TransportError
from tui.api.http_client import PROXY_PLAIN_HTTP, make_http_client
from tui.api.models import AccountStatus, DirectLink, HosterList
from tui.api.parse import (
    MAX_BODY_BYTES,
    MAX_HOSTERLIST_BYTES,
    parse_account_status,
    parse_direct_link,
    parse_hoster_list,
)
from tui.api.redact import redact, redact_url
from tui.api.tls import tls_failure
from tui.api.transport import Credentials, check_transport

log = logging.getLogger("tui.api")


class _RedactPinFilter(logging.Filter):
    """Redacts params[pass] from httpx's own log records ("HTTP Request: GET <url>")."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record: leave it to the handler's error path
            return True
        redacted = redact_url(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def _install_log_redaction() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactPinFilter) for f in httpx_log.filters):
        httpx_log.addFilter(_RedactPinFilter())


_install_log_redaction()

T = TypeVar("T")
PARSE_IN_THREAD_BYTES = 256 * 1024


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    return f"{size} bytes"


class _RedactedURL(httpx.URL):
    """The request URL as our frames hold it: whatever shows it (a crash
    report's locals, a log record, an f-string) sees `params[pass]=***`.
    httpx copies the parts it sends into a URL of its own."""

    def __str__(self) -> str:
        return redact_url(super().__str__())

    def __repr__(self) -> str:
        return f"URL({str(self)!r})"


def _request_url(
    base: str, method: str, credentials: Credentials, extra: dict[str, str]
) -> httpx.URL:
    """The one place the PIN is read: into the query of the request URL."""
    params = {
        "method": method,
        "params[login]": credentials.login,
        "params[pass]": credentials.password.reveal(),
        **extra,
    }
    return _RedactedURL(base, params=params)


class ApiClient:
    """One connection to the service; owns or borrows an `httpx.AsyncClient`.

    Every call raises a subclass of `ApiError` on failure, or `InsecureTransport`
    before sending anything when the URL would expose the PIN. A borrowed client
    should come from `make_http_client`, which keeps plain HTTP off proxies; one
    the client makes itself trusts `ca_file` too (CaFileError when it cannot).
    """

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        timeout: float = 20.0,
        allow_insecure_http: bool = False,
        proxy_plain_http: bool = False,
        http: httpx.AsyncClient | None = None,
        max_body_bytes: int | None = None,
        ca_file: str = "",
    ) -> None:
        self.url = url
        self.credentials = credentials
        self.timeout = timeout
        """Seconds for a whole call: connecting, the headers and all of the body."""
        self.allow_insecure_http = allow_insecure_http
        self.proxy_plain_http = proxy_plain_http
        """Whether plain HTTP to a host beyond this machine may use the environment's proxy."""
        self.max_body_bytes = max_body_bytes
        """A cap on every answer; None: 4 MB, or 32 MB for the hoster list."""
        self._owns_http = http is None
        self._http = http or make_http_client(ca_file)  # a borrowed one trusts what it trusts

    def __repr__(self) -> str:
        return f"ApiClient(url={self.url!r}, login={self.credentials.login!r})"

    def use_http(self, http: httpx.AsyncClient) -> None:
        """Send the next calls through `http`, borrowed (its owner closes the old one)."""
        if http is self._http:
            return
        if self._owns_http:
            raise ValueError("this client owns its HTTP client; only a borrowed one is replaced")
        self._http = http

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def account_status(self) -> AccountStatus:
        return await self._call("accountstatus", {}, parse_account_status, MAX_BODY_BYTES)

    async def hoster_list(self) -> HosterList:
        return await self._call("hosterlist", {}, parse_hoster_list, MAX_HOSTERLIST_BYTES)

    async def direct_download_link(self, link: str) -> DirectLink:
        return await self._call(
            "directdownloadlink", {"params[link]": link}, parse_direct_link, MAX_BODY_BYTES
        )

    async def _call(
        self,
        method: str,
        extra: dict[str, str],
        parse: Callable[[int, bytes], T],
        max_bytes: int,
    ) -> T:
        check_transport(self.url, self.allow_insecure_http)
        failure: ApiError | None = None
        try:
            url = _request_url(self.url, method, self.credentials, extra)
            status, body = await self._get(url, self.max_body_bytes or max_bytes)
        except ApiError as error:
            failure = error
        except TimeoutError:
            failure = TransportError(f"timed out: no complete answer within {self.timeout:g} s")
        except httpx.TimeoutException:  # a borrowed client's own timeout
            failure = TransportError("timed out")
        except httpx.InvalidURL:
            failure = TransportError("the API URL is not a valid URL")
        except httpx.DecodingError:
            failure = MalformedResponse("the body could not be decoded")
        except httpx.HTTPError as exc:  # transport errors, and too many redirects
            failure = tls_failure(exc, urlsplit(self.url).netloc) or TransportError(
                self._reason(exc)
            )
        except Exception as exc:
            # Anything else raised below httpx (a bug there, an odd OS error)
            # still ends here: its traceback runs through frames that hold the
            # real request URL, which no crash report may print.
            failure = TransportError(f"unexpected {type(exc).__name__} in the HTTP layer")
        if failure is not None:
            # Raised outside the except block, so that no __context__ keeps the
            # httpx error, whose request URL holds the PIN, for tracebacks to show.
            raise failure
        log.debug("%s answered HTTP %s, %d bytes", method, status, len(body))
        if len(body) > PARSE_IN_THREAD_BYTES:
            # Decoding 15 MB of JSON (50,000 hosters) takes a fifth of a second or
            # more: off the event loop, so the dashboard never waits on it.
            return await asyncio.to_thread(parse, status, body)
        return parse(status, body)

    async def _get(self, url: httpx.URL, max_bytes: int) -> tuple[int, bytes]:
        """The status and whole body, within `timeout` seconds (else TimeoutError):
        httpx's own timeouts bound each read, so a trickle would never end."""
        extensions = {PROXY_PLAIN_HTTP: self.proxy_plain_http}
        async with (
            asyncio.timeout(self.timeout),
            self._http.stream("GET", url, extensions=extensions) as response,
        ):
            chunks: list[bytes] = []
            size = 0
            # Decoded bytes (gzip/deflate undone), so the cap also bounds a compressed bomb.
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise MalformedResponse(f"body larger than {_size_text(max_bytes)}")
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)

    def _reason(self, exc: httpx.HTTPError) -> str:
        """A short, redacted reason for a transport failure."""
        reasons = {
            httpx.ConnectError: "connection failed",
            httpx.ReadError: "connection lost while reading",
            httpx.WriteError: "connection lost while sending",
            httpx.RemoteProtocolError: "the server broke the HTTP protocol",
            httpx.ProxyError: "proxy error",
            httpx.UnsupportedProtocol: "unsupported URL",
        }
        reason = next((text for cls, text in reasons.items() if isinstance(exc, cls)), "error")
        detail = redact(str(exc), self.credentials.password)[:160]
        host = urlsplit(self.url).netloc
        return f"{reason} ({host}: {detail})" if detail else f"{reason} ({host})"
