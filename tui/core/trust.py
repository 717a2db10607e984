"""The HTTP client the session's calls go through, trusting the settings' CA
file, and the watch on that file while it is the trouble."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING

from tui.api.tls import ca_file_version

if TYPE_CHECKING:
    import httpx

CA_FILE_CHECK_SECONDS = 5.0
"""While the CA file is the trouble, how often to look for a new version of it."""


class TrustedHttp:
    """Owns the HTTP client (or borrows one given to it, which it keeps as it is).

    `spawn` runs a coroutine beside the session; `changed` is called when the
    watched CA file has a new version: the caller connects again with it."""

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        spawn: Callable[[Coroutine[object, object, None], str], None],
        changed: Callable[[], None],
    ) -> None:
        self._http = http
        self._owned = http is None
        self._spawn = spawn
        self._changed = changed
        self._read: tuple[str, object] | None = None
        """The CA file last read for the owned client, and the version of it."""
        self._watched: str | None = None
        self._watch: asyncio.Task[None] | None = None

    async def client(self, ca_file: str, retire_after: float) -> httpx.AsyncClient:
        """The client, trusting `ca_file`: a new one when another file is named or
        the file changed (CaFileError when it cannot be used). The one it
        replaces is closed once the calls it carries have ended (`retire_after`)."""
        if self._http is not None and (not self._owned or not self.has_changed(ca_file)):
            return self._http
        from tui.api.http_client import make_http_client

        # Its version before it is read: a change while it is read is seen next time.
        self._read = (ca_file, ca_file_version(ca_file))
        # Reading the CAs takes a few hundredths of a second: not on the event loop.
        http = await asyncio.to_thread(make_http_client, ca_file)
        old, self._http = self._http, http
        if old is not None:
            self._spawn(_close_after(old, retire_after), "closing an old connection")
        return http

    def has_changed(self, ca_file: str) -> bool:
        return self._read != (ca_file, ca_file_version(ca_file))

    def watch(self, ca_file: str) -> None:
        """While `ca_file` cannot be used or does not make the server trusted, look
        for a new version of it (a renewal, a file put in place)."""
        self._watched = ca_file
        if self._owned and ca_file and self._watch is None:
            self._watch = asyncio.create_task(self._loop(), name="ca-file")
        self.check()

    @property
    def watching(self) -> bool:
        return self._watch is not None

    def check(self) -> None:
        watched = self._watched
        if self._watch is not None and watched is not None and self.has_changed(watched):
            self._changed()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(CA_FILE_CHECK_SECONDS)
            self.check()

    def stop_watching(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    async def close(self) -> None:
        self.stop_watching()
        if self._http is not None and self._owned:
            await self._http.aclose()


async def _close_after(http: httpx.AsyncClient, seconds: float) -> None:
    try:
        await asyncio.sleep(seconds)
    finally:
        await http.aclose()
