"""A hostile server of the legacy API for the untrusted-text tests.

It answers the three methods like the emulator, but every string the client
shows comes from the test: hoster names and TLDs, the account's name and type,
status messages, filenames and direct links. Loopback only, standard library.

Links name their payload and outcome: `https://h<N>.example/<outcome>/x`
unlocks with payload N; outcome `done` answers 200 with the payload in the
location and the filename, `file` only in the filename, `fail` answers status 0
with it as the message.
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from loopback import LoopbackServer

LONG = "L" * 9_990 + "[/bold]END"

PAYLOADS: dict[str, str] = {
    "bold": "[bold]x[/bold]",
    "link": "[link=https://evil]click[/link]",
    "close": "a[/]b",
    "open": "[red",
    "clear": "\x1b[2Jcleared",
    "sgr": "\x1b[31mred",
    "title": "\x1b]0;title\x07T",
    "osc52": "\x1b]52;c;ZXZpbA==\x07C",
    "c1": "\x9b31m\x9dC1",
    "zwsp": "zero\u200bwidth",
    "rtl": "\u202eexe.txt",
    "wide": "全角文字全角文字全角文字",
    "emoji": "📦🔥📦🔥",
    "combining": "e\u0301\u0302\u0303z\u0336",
    "long": LONG,
}
NAMES = list(PAYLOADS)


def link(name: str, outcome: str) -> str:
    return f"https://h{NAMES.index(name)}.example/{outcome}/x"


class HostileServer(LoopbackServer):
    """`with HostileServer() as server: server.url`; change `account_name`,
    `account_type` or `pin` at any time."""

    def __init__(self, login: str = "123456789", pin: str = "1111") -> None:
        self.login, self.pin = login, pin
        self.account_name = "benign"
        self.account_type = "premium"
        self.payloads = dict(PAYLOADS)
        self.account_error: tuple[int, str] | None = None
        self.results: dict[str, Any] = {}
        """Method -> the whole `result` (or, under "envelope:METHOD", the whole
        answer) to send instead of the usual one: any JSON value at all."""
        super().__init__(ThreadingHTTPServer, _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/pm-api/v1.php"

    def answer(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if params.get("params[login]") != self.login or params.get("params[pass]") != self.pin:
            return 401, _envelope(401, "login failed", [])
        method = params.get("method")
        if f"envelope:{method}" in self.results:
            return 200, self.results[f"envelope:{method}"]
        if method in self.results:
            return 200, _envelope(200, "OK", self.results[method])
        if method == "accountstatus" and self.account_error is not None:
            return 200, _envelope(*self.account_error, [])
        if method == "accountstatus":
            result = {
                "account_name": self.account_name,
                "type": self.account_type,
                "expires": 1_900_000_000,
                "fairuse_left": 0.9,
                "extuid": self.account_name,
            }
            return 200, _envelope(200, "OK", result)
        if method == "hosterlist":
            hosters = {
                payload: {
                    "tlds": [payload, f"h{i}.example"],
                    "regexes": [rf"https?://h{i}\.example/.*"],
                }
                for i, payload in enumerate(self.payloads.values())
            }
            result = {"hosters": hosters, "connection_settings": {"all": {"resume": True}}}
            return 200, _envelope(200, "OK", result)
        if method == "directdownloadlink":
            match = re.fullmatch(r"https://h(\d+)\.example/(\w+)/x", params.get("params[link]", ""))
            if match is None:
                return 400, _envelope(400, "no valid link", [])
            payload = list(self.payloads.values())[int(match[1])]
            if match[2] in ("done", "file"):
                path = payload[:5000] if match[2] == "done" else f"file{match[1]}"
                result = {
                    "location": "http://files.example/dl/" + path,
                    "filename": payload,
                    "filesize": 12345678,
                }
                return 200, _envelope(200, "OK", result)
            return 200, _envelope(0, payload, [])
        return 400, _envelope(400, "unknown method", [])


def _envelope(status: int, message: str, result: Any) -> dict[str, Any]:
    return {"result": result, "status": status, "statusmessage": message}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request line holds the PIN."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        hostile: HostileServer = self.server.owner  # type: ignore[attr-defined]
        if parts.path != "/pm-api/v1.php":
            status, body = 404, b"Not Found"
        else:
            status, data = hostile.answer(dict(parse_qsl(parts.query, keep_blank_values=True)))
            body = json.dumps(data).encode("ascii")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
