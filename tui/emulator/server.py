"""The HTTP side: a threaded standard-library server with switchable faults."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import selectors
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from tui.emulator import downloads
from tui.emulator.certificates import TlsIdentity
from tui.emulator.faults import NGINX_502_PAGE, Faults, pad_body, truncate_body
from tui.emulator.scenario import Scenario, default_scenario
from tui.emulator.state import AccountState, Service, Stats, error

API_PATH = "/pm-api/v1.php"
JSON_TYPE = "application/json"
# http.server knows no reason phrase for 509; this is the one Apache and nginx used.
REASONS = {509: "Bandwidth Limit Exceeded"}
ANSWERED_WITH_HTTP_200 = frozenset({0, 2, 500})
"""Statuses the service sent with HTTP 200: 0 and 2 are no HTTP codes, and for 500
("Link limit reached") JDownloader's plugin handles `case 500` in the envelope but
accepts only 400, 401, 402, 403, 404, 428, 502, 503 and 509 as HTTP codes, so
the real service answered it with 200."""
MAX_FORM_BYTES = 64 * 1024
"""A POST body larger than this is read only this far: the parameters are short."""
RETRY_AFTER_SECONDS = 5
"""What a download refused for too many connections is told to wait."""
RATE_STEPS_PER_SECOND = 100
"""A rate-limited body goes out in this many writes a second, each followed by a sleep."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], emulator: Emulator, tls: ssl.SSLContext | None
    ) -> None:
        self.emulator = emulator
        self.tls = tls
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._waker, self._wake = socket.socketpair()
        super().__init__(address, _Handler)

    def serve(self) -> None:
        """Accept until stop() wakes us: no polling while idle, and a prompt stop."""
        self.timeout = 0.05  # handle_request gives up on a readiness that went away
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._waker, selectors.EVENT_READ)
            while not self.stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self.socket and not self.stopping.is_set():
                        self.handle_request()

    def wake(self) -> None:
        self.stopping.set()
        self._wake.send(b"x")

    def server_close(self) -> None:
        super().server_close()
        self._waker.close()
        self._wake.close()

    def get_request(self) -> tuple[socket.socket, Any]:
        request, client_address = super().get_request()
        if self.tls is not None:
            # The handshake waits for the handler's thread: a client that never
            # finishes it holds only its own thread, never the accept loop.
            request = self.tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        return request, client_address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End keep-alive and in-flight connections, so the service is really gone."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay silent: clients hanging up is routine, and URLs carry the PIN."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections give their thread back

    def setup(self) -> None:
        super().setup()  # sets the timeout, which bounds the handshake too
        # Headers and body go out in separate writes; without this, Nagle's
        # algorithm and delayed ACKs add ~40 ms to every keep-alive answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                # A client that refuses the certificate ends here, before any request.
                self.server.emulator._service.record_refused_handshake()
                raise

    def version_string(self) -> str:
        return "nginx"

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request line holds the PIN, and tests want a quiet stderr."""

    def do_GET(self) -> None:
        self._route(send_body=True)

    def do_POST(self) -> None:
        # One public command-line client sent its parameters by POST, in the query
        # string; the real endpoint (a PHP script reading $_REQUEST) answered it
        # like a GET, from the query string and from a form body alike.
        length = int(self.headers.get("Content-Length") or 0)
        form = self.rfile.read(min(length, MAX_FORM_BYTES)).decode("latin-1") if length else ""
        self._route(send_body=True, form=form)

    def do_HEAD(self) -> None:
        self._route(send_body=False)

    def _route(self, send_body: bool, form: str = "") -> None:
        parts = urlsplit(self.path)
        try:
            if parts.path == API_PATH:
                self._api("&".join(part for part in (parts.query, form) if part), send_body)
            elif parts.path.startswith("/dl/"):
                self._download(parts.path, dict(parse_qsl(parts.query)), send_body)
            else:
                self._send(404, b"Not Found\n", "text/plain; charset=utf-8", send_body)
        except OSError:
            self.close_connection = True
        except Exception as exc:  # a bug in the emulator: record it, answer 500, keep serving
            self.server.emulator._service.record_error(f"{type(exc).__name__}: {exc}")
            self._send(500, b"Internal Server Error\n", "text/plain; charset=utf-8", send_body)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        send_body: bool,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.send_response(status, REASONS.get(status))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _drop(self) -> None:
        self.close_connection = True

    def _reset(self) -> None:
        # SO_LINGER 0 turns close() into a TCP RST instead of an orderly FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the makefile reference would otherwise defer the close
        self.connection.close()
        self.close_connection = True

    def _api(self, query: str, send_body: bool) -> None:
        emulator = self.server.emulator
        faults = emulator.faults
        params = dict(parse_qsl(query, keep_blank_values=True))  # unquotes %5B..%5D too
        method = params.get("method", "")
        service = emulator._service
        service.begin(method)
        try:
            delay = faults.latency_ms / 1000
            if faults.jitter_ms:
                delay += emulator._draw() * faults.jitter_ms / 1000
            if self.server.stopping.wait(delay + faults.hang_seconds):
                self._drop()
                return
            if faults.connection_reset:
                self._reset()
                return
            if faults.html_error_page:
                self._send(502, NGINX_502_PAGE, "text/html", send_body)
                return
            if faults.error_rate and emulator._draw() < faults.error_rate:
                status, body = (
                    error(503, "temporary technical error, maintenance")
                    if emulator._draw() < 0.5
                    else error(502, "unknown technical error")
                )
            else:
                status, body = service.answer(
                    params,
                    emulator.base_url,
                    faults.generated_hosters,
                    expiring=faults.dl_expire_minutes > 0,
                )
            http_status = status if 100 <= status <= 599 else 200
            if status in ANSWERED_WITH_HTTP_200:
                http_status = 200
            if faults.huge_body_bytes:
                body = pad_body(body, faults.huge_body_bytes)
            if faults.malformed_json:
                http_status, body = 200, truncate_body(body)
            self._send(http_status, body, JSON_TYPE, send_body)
        finally:
            service.end(method)

    def _download(self, path: str, query: dict[str, str], send_body: bool) -> None:
        emulator = self.server.emulator
        faults = emulator.faults
        parts = path.split("/")
        found = downloads.parse_token(parts[2]) if len(parts) == 4 else None
        if found is None:
            self._send(404, b"Not Found\n", "text/plain; charset=utf-8", send_body)
            return
        issued = query.get("issued", "")
        expire_seconds = faults.dl_expire_minutes * 60
        if (
            expire_seconds
            and issued.isdigit()
            and emulator._service.now() - int(issued) >= expire_seconds
        ):
            self._send(410, b"Gone\n", "text/plain; charset=utf-8", send_body)
            return
        size, seed = found
        name = downloads.HOSTILE_NAMES.get(query.get("name", ""))
        if name is None:
            name = downloads.safe_filename(unquote(parts[3]))
        etag, modified = f'"{seed:016x}-{size:x}"', downloads.last_modified(seed)
        headers = [
            ("Accept-Ranges", "bytes"),
            ("Content-Disposition", downloads.content_disposition(name)),
            ("ETag", etag),
            ("Last-Modified", modified),
        ]
        # If-Range names the version a client holds part of; another version is sent whole.
        if_range = self.headers.get("If-Range")
        asked = self.headers.get("Range") if if_range in (None, etag, modified) else None
        try:
            wanted = downloads.parse_range(asked, size)
        except downloads.RangeNotSatisfiable:
            headers.append(("Content-Range", f"bytes */{size}"))
            self._send(416, b"", "text/plain", send_body, tuple(headers))
            return
        first, last = wanted if wanted is not None else (0, size - 1)
        if wanted is not None:
            headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
        client = self.client_address[0]
        if send_body:
            refused = emulator._service.claim_download(
                parts[2], client, faults.dl_max_per_file, faults.dl_max_per_client
            )
            if refused is not None:
                retry = (("Retry-After", str(RETRY_AFTER_SECONDS)),)
                self._send(refused, b"Too many connections\n", "text/plain", send_body, retry)
                return
        self.send_response(206 if wanted is not None else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(last - first + 1))
        for header, value in headers:
            self.send_header(header, value)
        self.end_headers()
        if not send_body:
            return
        try:
            self._send_file(seed, first, last)
        finally:
            emulator._service.release_download(parts[2], client)

    def _send_file(self, seed: int, first: int, last: int) -> None:
        """Bytes first..last, at the rate the faults allow, cut where a drop falls."""
        emulator = self.server.emulator
        faults = emulator.faults
        end = last + 1
        if faults.dl_drop_after and emulator._draw() < faults.dl_drop_after:
            low, high = faults.dl_drop_min_bytes, faults.dl_drop_max_bytes
            if high <= 0:
                low, high = 0, last - first
            end = min(end, first + low + int(emulator._draw() * (high - low + 1)))
        rate = faults.dl_rate
        step = max(1, rate // RATE_STEPS_PER_SECOND) if rate else None
        started, sent = time.monotonic(), 0
        try:
            for chunk in downloads.iter_content(seed, first, end - 1):
                for offset in range(0, len(chunk), step or len(chunk)):
                    if self.server.stopping.is_set():
                        self._drop()
                        return
                    piece = chunk[offset : offset + step] if step else chunk
                    self.wfile.write(piece)
                    sent += len(piece)
                    if rate:
                        # Slept against the start, so a late wake-up is made good by the next.
                        delay = started + sent / rate - time.monotonic()
                        if delay > 0 and self.server.stopping.wait(delay):
                            self._drop()
                            return
        finally:
            emulator._service.count_sent(sent)
        if end <= last:
            self._drop()  # the connection ends before Content-Length, as a dropped one does


class Emulator:
    """A local server of the legacy API, faithful to spec/ and PROTOCOL-NOTES.

    Account expiry is computed from ``clock`` when the emulator is created; the
    same clock decides the 30-minute free re-unlock window. State (fair use,
    re-unlock window, flaky counters) survives ``stop()``/``restart()``.
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        faults: Faults | None = None,
        tls: bool = False,
    ) -> None:
        self.scenario = scenario if scenario is not None else default_scenario()
        self.host = host
        self.port = port
        self._service = Service(self.scenario, clock)
        self._rng_lock = threading.Lock()
        self.faults = dataclasses.replace(faults if faults is not None else self.scenario.faults)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.tls = tls
        self._tls: TlsIdentity | None = None
        """Made at the first start and kept: clients trust the same CA after a restart."""

    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        """Replacing the faults also reseeds the random draws, for repeatable tests."""
        with self._rng_lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)

    def _draw(self) -> float:
        with self._rng_lock:
            return self._rng.random()

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        # Listening on every address: loopback is one, and the certificate names it.
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{host}:{self.port}"

    @property
    def ca_pem(self) -> bytes:
        """The certificate (PEM) of the CA that signed this server's, once started with TLS."""
        if self._tls is None:
            raise RuntimeError("the emulator serves TLS only when made with tls=True and started")
        return self._tls.ca_pem

    @property
    def url(self) -> str:
        return self.base_url + API_PATH

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def stats(self) -> Stats:
        return self._service.stats

    def reset_stats(self) -> None:
        self._service.reset_stats()

    def account(self, login: str) -> AccountState:
        """The live state of an account (KeyError if the scenario has no such login)."""
        return self._service.accounts[login]

    def start(self) -> Self:
        if self._server is not None:
            return self
        if self.tls and self._tls is None:
            self._tls = TlsIdentity(self.host)
        context = self._tls.server_context() if self._tls is not None else None
        server = _Server((self.host, self.port), self, context)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve,
            name=f"linkdeck-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.wake()
        if thread is not None:
            thread.join(timeout=5)
        server.server_close()
        server.close_connections()

    def restart(self) -> Self:
        """Stop, then serve again on the same port (the service went away and came back)."""
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
