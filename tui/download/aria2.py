"""A small async client of aria2's JSON-RPC 2.0 interface, over httpx.

Why not a library: aria2p is synchronous, and aioaria2 (the maintained async
one) brings aiohttp, a second HTTP stack beside the httpx the core already
uses, with no deadline per call, untyped answers and errors that carry what
they were given. This client is what linkdeck needs of aria2 and no more.

The secret travels as the first parameter of every call (``token:SECRET``),
read from its `Secret` only while the request body is built. Every call has
one deadline for all of it; every answer is untrusted: its size is capped and
each value's type is checked before anything uses it. Every failure is an
`Aria2Error` whose text is one sentence without the secret.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from tui.api.http_client import make_http_client
from tui.api.redact import redact
from tui.download.job import is_count, is_text
from tui.secret import Secret
from tui.settings import Aria2Settings, resolve_aria2_secret
from tui.untrusted import plain

__all__ = [
    "STATUS_KEYS",
    "Aria2BadAnswer",
    "Aria2CallFailed",
    "Aria2Client",
    "Aria2Error",
    "Aria2SecretRefused",
    "Aria2Status",
    "Aria2Unreachable",
    "Aria2Version",
    "is_gid",
    "open_client",
    "watch",
]

log = logging.getLogger("tui.download.aria2")

MAX_ANSWER_BYTES = 1 << 20
"""No answer to the calls made here comes near this; a bigger one is hostile."""
MAX_MESSAGE_CHARS = 200
STATES = frozenset({"active", "waiting", "paused", "error", "complete", "removed"})
ENDED = frozenset({"error", "complete", "removed"})
"""The states aria2 leaves a download in for good."""
STATUS_KEYS = (
    "gid",
    "status",
    "totalLength",
    "completedLength",
    "downloadSpeed",
    "connections",
    "errorCode",
    "errorMessage",
)
"""What `tell_status` asks by default."""
FILES = "files"
"""The key that asks for the download's files too: `Aria2Status.path` is its first's."""
_GID = re.compile(r"[0-9a-f]{16}")
_COUNT = re.compile(r"[0-9]{1,20}")
_UNAUTHORIZED = "Unauthorized"


class Aria2Error(Exception):
    """A call to aria2 failed; ``str()`` says why in one sentence, never the secret."""


class Aria2Unreachable(Aria2Error):
    """aria2 could not be reached, or gave no whole answer within the deadline."""


class Aria2SecretRefused(Aria2Error):
    """aria2 refused the secret (its ``--rpc-secret`` is another)."""


class Aria2CallFailed(Aria2Error):
    """aria2 answered the call with an error of its own."""

    def __init__(self, method: str, code: int, message: str) -> None:
        self.code = code
        self.message = message
        """aria2's words, made plain text and cut short."""
        super().__init__(f"aria2 refused {method}: {message} (code {code})")

    @property
    def forgotten(self) -> bool:
        """aria2 knows no download of the GID asked about (it was restarted
        without a session file, or its result was removed)."""
        return self.message.endswith("is not found")


class Aria2BadAnswer(Aria2Error):
    """What answered is not aria2's JSON-RPC, or not the shape the call expects."""


@dataclass(frozen=True)
class Aria2Version:
    version: str
    features: tuple[str, ...]


@dataclass(frozen=True)
class Aria2Status:
    """One download as aria2 tells it; a key not asked for is ``None``."""

    gid: str
    status: str
    """active, waiting, paused, error, complete or removed."""
    total_length: int | None = None
    """Bytes; 0 while aria2 does not know yet."""
    completed_length: int | None = None
    download_speed: int | None = None
    """Bytes per second."""
    connections: int | None = None
    error_code: int | None = None
    """aria2's exit status of the download, once it has one."""
    error_message: str | None = None
    path: str | None = None
    """Where the (first) file is written, when `FILES` was asked for and aria2 knows it."""

    @property
    def ended(self) -> bool:
        """Complete, failed or removed: aria2 does no more with it."""
        return self.status in ENDED


_ONLY_ON_ERROR = frozenset({"errorCode", "errorMessage"})
"""Keys aria2 leaves out of a download that has had no error."""
_COUNT_FIELDS = {
    "totalLength": "total_length",
    "completedLength": "completed_length",
    "downloadSpeed": "download_speed",
    "connections": "connections",
    "errorCode": "error_code",
}


class Aria2Client:
    """Calls aria2 at ``rpc_url`` with ``secret``; each call ends within ``timeout`` s."""

    def __init__(
        self,
        rpc_url: str,
        secret: Secret | None = None,
        *,
        timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.rpc_url = rpc_url
        self._secret = secret if secret is not None else Secret("")
        self.timeout = timeout
        self._owns_http = http is None
        # Plain HTTP goes straight to its host (never to a proxy): the secret is in the body.
        self._http = http or make_http_client()
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"Aria2Client(rpc_url={self.rpc_url!r})"

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Aria2Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- the calls ------------------------------------------------------------

    async def get_version(self) -> Aria2Version:
        result = _mapping(await self._call("aria2.getVersion"), "getVersion")
        version = result.get("version")
        features = result.get("enabledFeatures", [])
        if not isinstance(version, str) or not isinstance(features, list):
            raise Aria2BadAnswer("aria2's getVersion answer has no version")
        return Aria2Version(
            version=_text(version, "getVersion"),
            features=tuple(_text(feature, "getVersion") for feature in features),
        )

    async def add_uri(
        self, uri: str, dir: str, out: str, split: int, max_connection_per_server: int
    ) -> str:
        """Hand ``uri`` to aria2, to be saved as ``dir``/``out`` over ``split``
        connections (at most ``max_connection_per_server`` to its host); its GID.
        A file already there is never overwritten, whatever aria2's own
        configuration says: aria2 takes a numbered name instead."""
        options = {
            "dir": dir,
            "out": out,
            "allow-overwrite": "false",
            "auto-file-renaming": "true",
            "split": str(_positive(split, "split")),
            "max-connection-per-server": str(
                _positive(max_connection_per_server, "max_connection_per_server")
            ),
        }
        return _gid(await self._call("aria2.addUri", [uri], options), "addUri")

    async def tell_status(self, gid: str, keys: tuple[str, ...] = STATUS_KEYS) -> Aria2Status:
        """The download ``gid``; only ``keys`` (of `STATUS_KEYS` and `FILES`) are asked for."""
        unknown = set(keys) - {*STATUS_KEYS, FILES}
        if unknown:
            raise ValueError(f"tell_status knows no key {sorted(unknown)[0]!r}")
        asked = list(dict.fromkeys(("gid", "status", *keys)))
        result = _mapping(await self._call("aria2.tellStatus", gid, asked), "tellStatus")
        return _status(result, asked)

    async def pause(self, gid: str) -> str:
        return _gid(await self._call("aria2.pause", gid), "pause")

    async def unpause(self, gid: str) -> str:
        return _gid(await self._call("aria2.unpause", gid), "unpause")

    async def remove(self, gid: str) -> str:
        """Stop the download ``gid``; aria2 keeps its result until `remove_download_result`."""
        return _gid(await self._call("aria2.remove", gid), "remove")

    async def remove_download_result(self, gid: str) -> None:
        """Forget the ended (complete, error or removed) download ``gid``."""
        if await self._call("aria2.removeDownloadResult", gid) != "OK":
            raise Aria2BadAnswer("aria2's removeDownloadResult answer is not OK")

    # --- the wire ---------------------------------------------------------------

    async def _call(self, method: str, *params: object) -> object:
        failure: Aria2Error | None = None
        try:
            answer = await self._post(method, list(params))
        except Aria2Error as error:
            failure = error
        except TimeoutError:
            failure = Aria2Unreachable(
                f"aria2 gave no whole answer within {self.timeout:g} s ({self._host})"
            )
        except httpx.InvalidURL:
            failure = Aria2Unreachable("the aria2 RPC URL is not a valid URL")
        except httpx.HTTPError as error:
            failure = Aria2Unreachable(f"aria2 cannot be reached ({self._host}: {_why(error)})")
        if failure is not None:
            # Without its traceback, whose frames hold the request body (the
            # secret), and outside the except block, so no __context__ keeps it.
            raise failure.with_traceback(None)
        return _result(answer, method.removeprefix("aria2."), self._secret)

    @property
    def _host(self) -> str:
        return urlsplit(self.rpc_url).netloc

    async def _post(self, method: str, params: list[object]) -> object:
        """The decoded answer to ``method``, within the deadline; the only place
        the secret is read."""
        call_id = str(next(self._ids))
        if self._secret:
            params = [f"token:{self._secret.reveal()}", *params]
        body = json.dumps({"jsonrpc": "2.0", "id": call_id, "method": method, "params": params})
        async with (
            asyncio.timeout(self.timeout),
            self._http.stream(
                "POST",
                self.rpc_url,
                content=body.encode(),
                headers={"Content-Type": "application/json"},
            ) as response,
        ):
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise Aria2BadAnswer(
                        f"aria2's answer to {method} is larger than {MAX_ANSWER_BYTES} bytes"
                    )
                chunks.append(chunk)
        log.debug("%s answered HTTP %s, %d bytes", method, response.status_code, size)
        try:
            answer = json.loads(b"".join(chunks))
        except (ValueError, RecursionError):
            raise Aria2BadAnswer(
                f"the answer to {method} is not JSON (HTTP {response.status_code}): "
                "is rpc_url aria2's /jsonrpc?"
            ) from None
        if not isinstance(answer, dict) or answer.get("id") != call_id:
            raise Aria2BadAnswer(f"the answer to {method} is not a JSON-RPC answer to it")
        return answer


def _why(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectError):
        return "connection refused or failed"
    if isinstance(error, httpx.ReadError | httpx.RemoteProtocolError):
        return "connection lost while reading"
    return type(error).__name__


def _result(answer: object, method: str, secret: Secret) -> object:
    assert isinstance(answer, dict)
    error = answer.get("error")
    if error is None and "result" in answer:
        return answer["result"]
    if not isinstance(error, dict):
        raise Aria2BadAnswer(f"aria2's answer to {method} has neither a result nor an error")
    code, message = error.get("code"), error.get("message")
    if isinstance(code, bool) or not isinstance(code, int) or not isinstance(message, str):
        raise Aria2BadAnswer(f"aria2's error answer to {method} is not of JSON-RPC's shape")
    if message == _UNAUTHORIZED:
        raise Aria2SecretRefused(
            "aria2 refused the secret: set [aria2] secret (or secret_command, or "
            "LINKDECK_ARIA2_SECRET) to its --rpc-secret"
        )
    # A hostile server may echo the secret back: never repeat it.
    shown = plain(redact(message, secret))[:MAX_MESSAGE_CHARS]
    raise Aria2CallFailed(method, code, shown)


def _mapping(result: object, method: str) -> dict[str, object]:
    if not isinstance(result, dict):
        raise Aria2BadAnswer(f"aria2's answer to {method} is not an object")
    return result


def _text(value: object, method: str) -> str:
    if not isinstance(value, str):
        raise Aria2BadAnswer(f"aria2's answer to {method} holds a non-text value")
    return plain(value)[:MAX_MESSAGE_CHARS]


def _gid(result: object, method: str) -> str:
    if not is_gid(result):
        raise Aria2BadAnswer(f"aria2's answer to {method} is not a GID")
    return result


def _positive(number: int, name: str) -> int:
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"{name} must be a whole number of at least 1")
    return number


def _status(result: dict[str, object], asked: list[str]) -> Aria2Status:
    missing = [key for key in asked if key not in result and key not in _ONLY_ON_ERROR]
    if missing:
        raise Aria2BadAnswer(f"aria2's tellStatus answer lacks {missing[0]}")
    gid = _gid(result["gid"], "tellStatus")
    status = result["status"]
    if status not in STATES:
        raise Aria2BadAnswer("aria2's tellStatus answer has a status of no known kind")
    counts: dict[str, int] = {}
    for key, name in _COUNT_FIELDS.items():
        if key in asked and key in result:
            value = result[key]
            count = int(value) if isinstance(value, str) and _COUNT.fullmatch(value) else None
            if not is_count(count):
                raise Aria2BadAnswer(f"aria2's tellStatus answer has a {key} that is no count")
            counts[name] = count
    message = None
    if "errorMessage" in result:
        message = _text(result["errorMessage"], "tellStatus")
    path = _first_path(result[FILES]) if FILES in asked else None
    return Aria2Status(gid=gid, status=str(status), error_message=message, path=path, **counts)


def _first_path(files: object) -> str | None:
    """The path of the first of a download's ``files`` ("" while aria2 has none: None)."""
    if not isinstance(files, list) or not all(isinstance(entry, dict) for entry in files):
        raise Aria2BadAnswer("aria2's tellStatus answer has files that are not a list of files")
    if not files:
        return None
    path = files[0].get("path")
    if not is_text(path):
        raise Aria2BadAnswer("aria2's tellStatus answer has a file path that is no path")
    return path or None


def is_gid(text: object) -> bool:
    """Whether ``text`` is a GID as aria2 makes them (a stored one is untrusted)."""
    return isinstance(text, str) and _GID.fullmatch(text) is not None


async def open_client(
    settings: Aria2Settings,
    *,
    timeout: float = 10.0,
    on_secret: Callable[[Secret], None] | None = None,
) -> Aria2Client:
    """A client of the aria2 that ``settings`` name, its secret resolved off the
    event loop (``secret_command`` may take seconds) and handed to ``on_secret``
    (for the log file to scrub it). Raises ``SettingsError`` when the secret
    command fails."""
    secret = await asyncio.to_thread(resolve_aria2_secret, settings)
    if on_secret is not None:
        on_secret(secret)
    return Aria2Client(settings.rpc_url, secret, timeout=timeout)


async def watch(
    client: Aria2Client,
    gid: str,
    on_status: Callable[[Aria2Status], None],
    *,
    keys: tuple[str, ...] = STATUS_KEYS,
    every: float = 1.0,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> Aria2Status:
    """Ask aria2 for ``gid``'s status (its ``keys``) every ``every`` seconds,
    telling ``on_status`` each one that differs from the last, until it has
    ended; that last status. A failed call raises (the caller decides whether to
    watch on)."""
    last: Aria2Status | None = None
    while True:
        status = await client.tell_status(gid, keys)
        if status != last:
            on_status(status)
            last = status
        if status.ended:
            return status
        await sleep(every)
