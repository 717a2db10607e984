"""A server of a test's own on a free port of 127.0.0.1, served by a thread
while the `with` block runs. Its handlers reach the test's object as
`self.server.owner`."""

from __future__ import annotations

import socketserver
import threading
from typing import Any, Self


class LoopbackServer:
    """Base of the tests' servers: `with Server() as server: server.port`."""

    def __init__(self, server_class: type[socketserver.BaseServer], handler: type[Any]) -> None:
        self._server = server_class(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]  # type: ignore[index, return-value]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
