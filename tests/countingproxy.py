"""A reverse proxy in front of the emulator that counts every link sent to
`directdownloadlink` the moment the request arrives (a request in flight when
its client is killed counts too), and can hold those requests at a gate until
the test lets them through: so every process can queue its links before the
first one ends."""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

GATE_SECONDS = 60.0
"""A held request goes through after this long anyway, so no test can hang on it."""


class CountingProxy:
    """`with CountingProxy(emulator.url) as proxy:` point the clients at `proxy.url`;
    `proxy.requested` counts the links; `proxy.gate.clear()` holds unlocks,
    `proxy.gate.set()` lets them through."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.path = parts.path
        self.requested: Counter[str] = Counter()
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def count(self, query: str) -> bool:
        """Count the link of an unlock request; True if it is one."""
        params = dict(parse_qsl(query, keep_blank_values=True))
        if params.get("method") != "directdownloadlink":
            return False
        with self._lock:
            self.requested[params.get("params[link]", "")] += 1
        return True

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.gate.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _handler(proxy: CountingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if proxy.count(urlsplit(self.path).query):
                proxy.gate.wait(GATE_SECONDS)
            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
            try:
                upstream.request("GET", self.path)
                answer = upstream.getresponse()
                body = answer.read()
            except (OSError, http.client.HTTPException):
                self.close_connection = True  # the emulator stopped: so does this answer
                return
            finally:
                upstream.close()
            self.send_response(answer.status, answer.reason)
            self.send_header("Content-Type", answer.getheader("Content-Type", "text/plain"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the query holds the PIN: nothing is logged

    return Handler
