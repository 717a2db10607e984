"""A loopback server of the legacy API that answers slowly on purpose.

Every answer of a method in `slow_methods` trickles out in the way `mode` says,
each piece in time to beat any per-read timeout, so only a deadline on the whole
call ends it. The other methods answer at once (a premium account, one hoster,
a direct link), which lets a test fail the call it wants and no other.

Modes: "headers" (the status line and headers, one byte every `interval`),
"length-body" (a Content-Length body, one byte at a time), "chunked-body"
(one-byte chunks), "endless-body" (a body without a length that never ends,
fast but far below the size cap). `mode = None` answers everything at once.
Standard library only; each trickle stops after `MAX_SECONDS`, when the client
goes away, or when the server stops.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Self
from urllib.parse import parse_qsl, urlsplit

MODES = ("headers", "length-body", "chunked-body", "endless-body")
HOSTER_LINK = "https://uploaded.net/file/slow0001/x.zip"
MAX_SECONDS = 60.0
"""Longer than any test waits: a client without a deadline would still be reading."""


class DribblingServer:
    """`with DribblingServer("headers") as server: server.url`; `mode` and
    `slow_methods` may change at any time."""

    def __init__(
        self,
        mode: str | None,
        slow_methods: frozenset[str] = frozenset(
            {"accountstatus", "hosterlist", "directdownloadlink"}
        ),
        interval: float = 0.3,
    ) -> None:
        assert mode is None or mode in MODES, mode
        self.mode, self.slow_methods, self.interval = mode, slow_methods, interval
        self.calls: list[str] = []
        self.abandoned = 0
        """Trickles that ended because the client closed the connection."""
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/pm-api/v1.php"

    def __enter__(self) -> Self:
        self._start(self._accept_loop)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._start(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                method = _read_method(conn)
            except OSError:
                return
            with self._lock:
                self.calls.append(method)
            mode = self.mode if method in self.slow_methods else None
            try:
                if mode is None:
                    conn.sendall(_whole_answer(method))
                else:
                    self._trickle(conn, _pieces(mode, self.interval))
            except OSError:
                with self._lock:
                    self.abandoned += 1

    def _trickle(self, conn: socket.socket, pieces: Iterator[tuple[bytes, float]]) -> None:
        ends = time.monotonic() + MAX_SECONDS
        for piece, pause in pieces:
            if self._stop.is_set() or time.monotonic() > ends:
                return
            conn.sendall(piece)
            self._stop.wait(pause)


def _read_method(conn: socket.socket) -> str:
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 65536:
        data = conn.recv(4096)
        if not data:
            break
        head += data
    target = head.split(b" ", 2)[1].decode("latin-1") if head.count(b" ") >= 2 else ""
    return dict(parse_qsl(urlsplit(target).query)).get("method", "")


def _envelope(result: object) -> bytes:
    return json.dumps({"result": result, "status": 200, "statusmessage": "OK"}).encode()


def _whole_answer(method: str) -> bytes:
    results: dict[str, object] = {
        "accountstatus": {
            "account_name": "slowpoke",
            "type": "premium",
            "expires": 1_900_000_000,
            "fairuse_left": 0.75,
        },
        "hosterlist": {
            "hosters": {
                "uploaded.net": {
                    "tlds": ["uploaded.net"],
                    "regexes": [r"https?://uploaded\.net/.*"],
                }
            }
        },
        "directdownloadlink": {
            "location": "https://files.example/dl/x.zip",
            "filename": "x.zip",
            "filesize": 1234,
        },
    }
    body = _envelope(results.get(method, []))
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def _pieces(mode: str, interval: float) -> Iterator[tuple[bytes, float]]:
    """One slow answer, forever: each piece with the pause that follows it."""
    json_head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    if mode == "headers":
        for byte in json_head + b"X-Slow: ":
            yield bytes([byte]), interval
        while True:
            yield b"a", interval
    if mode == "length-body":
        yield json_head + b"Content-Length: 100000\r\n\r\n", interval
        while True:
            yield b" ", interval
    if mode == "chunked-body":
        yield json_head + b"Transfer-Encoding: chunked\r\n\r\n", interval
        while True:
            yield b"1\r\n \r\n", interval
    if mode == "endless-body":
        # About 10 KB a second: far below the 4 MB cap for as long as any test runs.
        yield json_head + b"Connection: close\r\n\r\n", 0.05
        while True:
            yield b" " * 512, 0.05
