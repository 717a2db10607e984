"""A PIN in plain HTTP never leaves the machine, whatever proxy the environment names.

A logging proxy of the test's own records every request line and every byte it
is sent. `linkdeck status` runs with the proxy in http_proxy, HTTP_PROXY,
ALL_PROXY or all_proxy (https_proxy, HTTPS_PROXY for HTTPS):
- plain HTTP to loopback (an `ssh -L` tunnel) goes straight there: the proxy
  sees nothing and the status works;
- HTTPS may use the proxy, which then sees one CONNECT and never the PIN;
- plain HTTP to another host (allow_insecure_http) does not use the proxy,
  unless `proxy_plain_http = true` says it may. `service.invalid` resolves only
  through the proxy, so nothing else is ever contacted.
The dashboard builds its client in the same place: a test there switches
`proxy_plain_http` on and off while it runs.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from commandline import isolated_env, one_sentence
from deck import wait_for
from loopback import LoopbackServer

from tui.app import LinkdeckApp
from tui.core import Connection
from tui.emulator import Emulator
from tui.unlock import FakeClock

PIN = "86420975"
LOGIN = "123456789"
REMOTE = "http://service.invalid/pm-api/v1.php"
PLAIN_VARIABLES = ("http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy")
TLS_VARIABLES = ("https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy")


class LoggingProxy(LoopbackServer):
    """An HTTP proxy on 127.0.0.1 that keeps every request line and every byte
    it receives. It answers an absolute-form GET for the legacy API itself (no
    host behind it is contacted); to a CONNECT it says yes, then only listens to
    the tunnel (the start of a TLS handshake) and hangs up."""

    def __init__(self) -> None:
        self.request_lines: list[str] = []
        self.received = bytearray()
        self._lock = threading.Lock()
        super().__init__(socketserver.ThreadingTCPServer, _ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, data: bytes, request_line: str | None = None) -> None:
        with self._lock:
            self.received += data
            if request_line is not None:
                self.request_lines.append(request_line)

    def saw_pin(self) -> bool:
        data = bytes(self.received)
        return PIN.encode() in data or base64.b64encode(PIN.encode()) in data


class _ProxyHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        proxy: LoggingProxy = self.server.owner  # type: ignore[attr-defined]
        conn: socket.socket = self.request
        conn.settimeout(2)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = conn.recv(4096)
                if not data:
                    break
                head += data
        except OSError:
            pass
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        proxy.record(head, request_line)
        try:
            if request_line.startswith("CONNECT "):
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                proxy.record(conn.recv(65536))  # the TLS client hello, then hang up
            elif request_line.startswith("GET http://"):
                conn.sendall(_answer(request_line.split(" ")[1]))
        except OSError:
            pass


def _answer(url: str) -> bytes:
    method = dict(parse_qsl(urlsplit(url).query)).get("method")
    results: dict[str, object] = {
        "accountstatus": {
            "account_name": "through the proxy",
            "type": "premium",
            "expires": None,
            "fairuse_left": 0.5,
        },
        "hosterlist": {"hosters": {}},
    }
    envelope = {"result": results.get(str(method), []), "status": 200, "statusmessage": "OK"}
    body = json.dumps(envelope).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


def env_with_proxy(tmp_path: Path, variable: str, proxy: LoggingProxy, pin: str) -> dict[str, str]:
    """The isolated environment with no proxy but `variable`."""
    env = isolated_env(tmp_path, LINKDECK_PASSWORD=pin)
    for name in list(env):
        if name.lower().endswith("_proxy"):
            del env[name]
    env[variable] = proxy.url
    return env


def status(
    tmp_path: Path, variable: str, url: str, pin: str = PIN, login: str = LOGIN, extra: str = ""
) -> tuple[subprocess.CompletedProcess[str], LoggingProxy]:
    """`linkdeck status` with the proxy of the test in `variable`."""
    folder = tmp_path / variable
    folder.mkdir()
    config = folder / "config.toml"
    config.write_text(f'[api]\nurl = "{url}"\nlogin = "{login}"\ntimeout = 3\n{extra}')
    config.chmod(0o600)
    with LoggingProxy() as proxy:
        result = subprocess.run(
            [sys.executable, "-m", "tui", "status", "--config", str(config)],
            env=env_with_proxy(folder, variable, proxy, pin),
            capture_output=True,
            text=True,
            timeout=30,
        )
    return result, proxy


def status_for_each(
    variables: tuple[str, ...], run: Callable[[str], tuple[Any, LoggingProxy]]
) -> dict[str, tuple[subprocess.CompletedProcess[str], LoggingProxy]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(variables, pool.map(run, variables), strict=True))


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def test_plain_http_to_loopback_never_uses_the_proxy(tmp_path: Path, emu: Emulator) -> None:
    results = status_for_each(
        PLAIN_VARIABLES,
        lambda variable: status(tmp_path, variable, emu.url, pin="1111", login="111111111"),
    )
    for variable, (result, proxy) in results.items():
        assert proxy.request_lines == [], (variable, proxy.request_lines)
        assert result.returncode == 0, (variable, result.stderr)
        assert "111111111" in result.stdout
    assert emu.stats.calls["accountstatus"] == len(PLAIN_VARIABLES)


def test_https_goes_through_the_proxy_only_as_a_tunnel(tmp_path: Path) -> None:
    # The proxy never connects on: the "server" is its own silence after a yes.
    url = "https://service.invalid/pm-api/v1.php"
    results = status_for_each(TLS_VARIABLES, lambda variable: status(tmp_path, variable, url))
    for variable, (result, proxy) in results.items():
        assert proxy.request_lines == ["CONNECT service.invalid:443 HTTP/1.1"], variable
        assert not proxy.saw_pin(), variable
        one_sentence(result, 4)  # no TLS server behind: unreachable, in one sentence
        assert PIN not in result.stderr


def test_allowed_plain_http_elsewhere_does_not_use_the_proxy(tmp_path: Path) -> None:
    results = status_for_each(
        PLAIN_VARIABLES,
        lambda variable: status(tmp_path, variable, REMOTE, extra="allow_insecure_http = true\n"),
    )
    for variable, (result, proxy) in results.items():
        assert proxy.request_lines == [], (variable, proxy.request_lines)
        assert not proxy.saw_pin()
        # service.invalid has no address but through the proxy.
        line = one_sentence(result, 4)
        assert "the service is unreachable: connection failed" in line, (variable, line)


def test_plain_http_uses_the_proxy_when_the_setting_says_so(tmp_path: Path) -> None:
    extra = "allow_insecure_http = true\nproxy_plain_http = true\n"
    results = status_for_each(
        PLAIN_VARIABLES, lambda variable: status(tmp_path, variable, REMOTE, extra=extra)
    )
    for variable, (result, proxy) in results.items():
        assert result.returncode == 0, (variable, result.stderr)
        assert "through the proxy" in result.stdout
        (line,) = proxy.request_lines
        assert line.startswith(f"GET {REMOTE}?method=accountstatus"), line
        assert proxy.saw_pin()  # the one case the user allowed


def test_a_proxy_httpx_cannot_use_fails_in_one_sentence(tmp_path: Path, emu: Emulator) -> None:
    env = isolated_env(tmp_path, LINKDECK_PASSWORD="1111")
    env = {k: v for k, v in env.items() if not k.lower().endswith("_proxy")}
    env["ALL_PROXY"] = "ftp://127.0.0.1:9"  # a scheme httpx refuses
    command = [sys.executable, "-m", "tui", "status", "--login", "111111111", "--api-url"]
    https = subprocess.run(
        [*command, "https://service.invalid/pm-api/v1.php"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    line = one_sentence(https, 4)
    assert "the proxy set in the environment cannot be used" in line, line
    # Plain HTTP to loopback never needed the proxy, so it still works.
    loopback = subprocess.run(
        [*command, emu.url], env=env, capture_output=True, text=True, timeout=30
    )
    assert loopback.returncode == 0, loopback.stderr


# --- the dashboard ------------------------------------------------------------------


async def test_dashboard_follows_the_setting_while_it_runs(
    make_profile: Callable[..., Any],
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    with LoggingProxy() as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("ALL_PROXY", proxy.url)

        class Remote:  # make_profile reads the URL from an emulator
            url = REMOTE

        profile = make_profile(
            Remote, login=LOGIN, pin=PIN, api={"allow_insecure_http": True, "timeout": 3}
        )
        app = LinkdeckApp(profile, clock=fake_clock)
        async with app.run_test(size=(120, 40)) as pilot:
            panel = app.dashboard.account
            await wait_for(pilot, lambda: panel.connection is Connection.UNREACHABLE, 10)
            assert proxy.request_lines == []

            def use_proxy(allowed: bool) -> Any:
                api = replace(app.settings.api, proxy_plain_http=allowed)
                return app.apply_settings(replace(app.settings, api=api))

            await use_proxy(True)
            await wait_for(pilot, lambda: panel.connection is Connection.OK, 10)
            assert panel.account is not None
            assert panel.account.account_name == "through the proxy"
            assert proxy.saw_pin()
            await wait_for(pilot, lambda: len(proxy.request_lines) == 2)  # and the hosters

            seen = len(proxy.request_lines)
            await use_proxy(False)
            await wait_for(pilot, lambda: panel.connection is Connection.STALE, 10)
            assert len(proxy.request_lines) == seen
