"""The service behind the endpoint: accounts, fair use, unlock outcomes, counters.

Everything mutable sits behind one lock, because the server answers each request
in its own thread.
"""

from __future__ import annotations

import functools
import hmac
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from tui.emulator.downloads import hostile_kind, remote_file
from tui.emulator.scenario import (
    ConnectionSettings,
    Hoster,
    Scenario,
    generated_hosters,
    hosterlist_result,
)

METHODS = ("accountstatus", "hosterlist", "directdownloadlink")
UNLOCK_WINDOW_SECONDS = 30 * 60
FAIRUSE_POINTS = 1000
FLAKY_FAILURES = 2

# Checked in this order after the hoster is known; the last three are the
# undocumented codes seen in the wild.
PATH_MARKERS: tuple[tuple[str, int, str], ...] = (
    ("/missing/", 404, "file not found"),
    ("/forbidden/", 403, "forbidden"),
    ("/broken/", 502, "unknown technical error"),
    ("/busy/", 503, "temporary technical error, maintenance"),
)
WILD_MARKERS: tuple[tuple[str, int, str], ...] = (
    ("/daily-limit/", 0, "Daily limit reached for this host!"),
    ("/strange/", 2, "strange error"),
    ("/link-limit/", 500, "Link limit reached"),
)


@dataclass
class AccountState:
    login: str
    pin: str = field(repr=False)
    type: str = "premium"
    expires: int | None = None
    fairuse_left: float = 1.0
    extuid: str = ""

    @property
    def can_download(self) -> bool:
        return self.type != "free"


@dataclass
class Stats:
    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(METHODS, 0))
    concurrent_unlocks: int = 0
    max_concurrent_unlocks: int = 0
    requested_links: list[str] = field(default_factory=list)
    unlocked_links: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refused_handshakes: int = 0
    """TLS connections that ended in the handshake (the client refused the certificate)."""
    active_downloads: int = 0
    """Bodies of /dl/ being sent now (a connection a client dropped ends at its next write)."""
    download_bytes: int = 0
    """Body bytes /dl/ has sent (what a client fetched twice shows here)."""


def encode(status: int, message: str, result: Any) -> bytes:
    """The envelope as the PHP service wrote it: compact, ASCII, slashes escaped."""
    text = json.dumps(
        {"result": result, "status": status, "statusmessage": message}, separators=(",", ":")
    )
    # json_encode escapes "/" by default; it only ever occurs inside strings here.
    return text.replace("/", "\\/").encode("ascii")


def error(status: int, message: str) -> tuple[int, bytes]:
    # PHP served an empty array as the result of an error, but null with status 0:
    # JDownloader's plugin quotes the real answer
    # {"result":null,"statusmessage":"Daily limit reached for this host!","status":0}.
    return status, encode(status, message, None if status == 0 else [])


@functools.lru_cache(maxsize=2)
def generated_hosterlist_body(count: int, default_settings: ConnectionSettings) -> bytes:
    return encode(200, "OK", hosterlist_result(generated_hosters(count), default_settings))


class Service:
    def __init__(self, scenario: Scenario, clock: Callable[[], float]) -> None:
        self.lock = threading.Lock()
        self.stats = Stats()
        self._scenario = scenario
        self._clock = clock
        now = clock()
        self.accounts = {
            spec.login: AccountState(
                login=spec.login,
                pin=spec.pin,
                type=spec.type,
                expires=None
                if spec.expires_in_days is None
                else int(now + spec.expires_in_days * 86400),
                fairuse_left=spec.fairuse_left,
                extuid=spec.extuid,
            )
            for spec in scenario.accounts
        }
        self._patterns: list[tuple[re.Pattern[str], Hoster]] = []
        for hoster in scenario.hosters:
            for regex in hoster.regexes:
                try:
                    self._patterns.append((re.compile(regex, re.IGNORECASE), hoster))
                except re.error:
                    continue  # served as-is on purpose; a real client must cope too
        self._hosterlist_body = encode(
            200, "OK", hosterlist_result(scenario.hosters, scenario.connection_settings)
        )
        self._flaky: dict[str, int] = {}
        self._unlocks: dict[tuple[str, str], float] = {}
        self._downloads_by_file: dict[str, int] = {}
        self._downloads_by_client: dict[str, int] = {}

    def now(self) -> float:
        return self._clock()

    def claim_download(self, file: str, client: str, per_file: int, per_client: int) -> int | None:
        """Take a download connection, or the HTTP status refusing it (0: no limit)."""
        with self.lock:
            if per_client and self._downloads_by_client.get(client, 0) >= per_client:
                return 429
            if per_file and self._downloads_by_file.get(file, 0) >= per_file:
                return 503
            self._downloads_by_file[file] = self._downloads_by_file.get(file, 0) + 1
            self._downloads_by_client[client] = self._downloads_by_client.get(client, 0) + 1
            self._count_downloads()
        return None

    def count_sent(self, count: int) -> None:
        with self.lock:
            self.stats.download_bytes += count

    def release_download(self, file: str, client: str) -> None:
        with self.lock:
            for counts, key in (
                (self._downloads_by_file, file),
                (self._downloads_by_client, client),
            ):
                counts[key] -= 1
                if counts[key] == 0:
                    del counts[key]
            self._count_downloads()

    def _count_downloads(self) -> None:
        # Counted afresh, so a reset of the stats during a download cannot skew it.
        self.stats.active_downloads = sum(self._downloads_by_client.values())

    def reset_stats(self) -> None:
        with self.lock:
            self.stats = Stats()

    def begin(self, method: str) -> None:
        with self.lock:
            if method in self.stats.calls:
                self.stats.calls[method] += 1
            if method == "directdownloadlink":
                self.stats.concurrent_unlocks += 1
                self.stats.max_concurrent_unlocks = max(
                    self.stats.max_concurrent_unlocks, self.stats.concurrent_unlocks
                )

    def end(self, method: str) -> None:
        if method == "directdownloadlink":
            with self.lock:
                self.stats.concurrent_unlocks -= 1

    def record_refused_handshake(self) -> None:
        with self.lock:
            self.stats.refused_handshakes += 1

    def record_error(self, text: str) -> None:
        with self.lock:
            self.stats.errors.append(text)

    def answer(
        self, params: dict[str, str], dl_base: str, generated: int = 0, expiring: bool = False
    ) -> tuple[int, bytes]:
        """(JSON status, body) for one API call; ``expiring`` locations carry their unlock time."""
        method = params.get("method", "")
        if method not in METHODS:
            return error(400, "unknown method")
        account = self._login(params.get("params[login]", ""), params.get("params[pass]", ""))
        if account is None:
            return error(401, "login failed")
        if method == "accountstatus":
            return 200, encode(200, "OK", self._account_result(account))
        if method == "hosterlist":
            if generated > 0:
                return 200, generated_hosterlist_body(generated, self._scenario.connection_settings)
            return 200, self._hosterlist_body
        return self._unlock(account, params.get("params[link]", ""), dl_base, expiring)

    def _login(self, login: str, pin: str) -> AccountState | None:
        account = self.accounts.get(login)
        if account is None or not hmac.compare_digest(account.pin.encode(), pin.encode()):
            return None
        return account

    def _account_result(self, account: AccountState) -> dict[str, Any]:
        with self.lock:
            left = account.fairuse_left
        gigabytes = left * FAIRUSE_POINTS
        return {
            "account_name": account.login,
            "type": account.type,
            "expires": account.expires,
            "fairuse_left": left,
            "trafficleft_bytes": int(gigabytes * 2**30),
            "trafficleft_gigabytes": gigabytes,
            "extuid": account.extuid,
        }

    def match(self, link: str) -> Hoster | None:
        for pattern, hoster in self._patterns:
            if pattern.match(link):
                return hoster
        return None

    def _unlock(
        self, account: AccountState, link: str, dl_base: str, expiring: bool
    ) -> tuple[int, bytes]:
        with self.lock:
            self.stats.requested_links.append(link)
        if not account.can_download:
            return error(402, "payment required")
        hoster = self.match(link)
        if hoster is None:
            return error(400, "no valid link")
        if hoster.name == self._scenario.unavailable_hoster:
            return error(428, "hoster currently not available")
        path = urlsplit(link).path
        for marker, status, message in PATH_MARKERS:
            if marker in path:
                return error(status, message)
        if "/flaky/" in path:
            with self.lock:
                self._flaky[link] = seen = self._flaky.get(link, 0) + 1
            if seen <= FLAKY_FAILURES:
                return error(503, "temporary technical error, maintenance")
        for marker, status, message in WILD_MARKERS:
            if marker in path:
                return error(status, message)
        file = remote_file(link)
        with self.lock:
            now = self._clock()
            key = (account.login, link)
            charged = self._unlocks.get(key)
            if charged is None or now - charged >= UNLOCK_WINDOW_SECONDS:
                if account.fairuse_left <= 0:
                    return error(509, "fair use limit exhausted")
                points = hoster.cost_factor * file.size / 2**30
                account.fairuse_left = max(0.0, account.fairuse_left - points / FAIRUSE_POINTS)
                self._forget_old_unlocks(now)
                self._unlocks[key] = now
            self.stats.unlocked_links.append(link)
        query = {"name": hostile_kind(link), "issued": int(now) if expiring else None}
        location = file.location(dl_base)
        if any(value is not None for value in query.values()):
            location += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        result = {
            "location": location,
            "filename": file.filename,
            "filesize": file.size,
        }
        return 200, encode(200, "OK", result)

    def _forget_old_unlocks(self, now: float) -> None:
        """Drop entries whose free window has passed, so a long demo stays small.

        Entries are added in time order (a link is only charged again once its
        own entry has expired and gone), so the expired ones are at the front:
        a scan of every entry per unlock made long runs slower and slower."""
        while self._unlocks:
            key, charged_at = next(iter(self._unlocks.items()))
            if now - charged_at < UNLOCK_WINDOW_SECONDS:
                break
            del self._unlocks[key]
