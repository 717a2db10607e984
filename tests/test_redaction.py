"""The PIN never shows: every error path of the client, and of the headless
commands, with a distinctive PIN, checked in exception text, exception chains,
tracebacks, log records at DEBUG for every logger, reprs and command output."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import subprocess
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from tlsemulator import write_ca

from tui.api import ApiClient, ApiError, Credentials, InsecureTransport, UntrustedCertificate
from tui.api.parse import MAX_BODY_BYTES, MAX_HOSTERLIST_BYTES
from tui.emulator import AccountSpec, Emulator, Faults, default_scenario

PINS = ["9137PINzz", "9137 P&N/zz+%"]  # plain, and one that URL encoding changes
PREMIUM, FREE, EXHAUSTED = "700000001", "700000002", "700000005"
RG_ID = "0123456789abcdef0123456789abcdef"


def rg(path: str = "movie.mkv") -> str:
    return f"https://rapidgator.net/file/{RG_ID}/{path}"


def forms(pin: str) -> set[str]:
    """The PIN as it may appear in text: raw and URL-encoded."""
    return {pin, quote(pin, safe=""), quote_plus(pin), quote(pin)}


def leaks(text: str, pin: str) -> list[str]:
    return [form for form in forms(pin) if form in text]


def emulator_with(pin: str, tls: bool = False) -> Emulator:
    """The default scenario, but every account's PIN is the distinctive one."""
    scenario = default_scenario()
    scenario.accounts = [
        AccountSpec(PREMIUM, pin, "premium", expires_in_days=30, fairuse_left=0.77),
        AccountSpec(FREE, pin, "free"),
        AccountSpec(EXHAUSTED, pin, "premium", expires_in_days=30, fairuse_left=0.0),
    ]
    return Emulator(scenario, tls=tls)


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A bound, non-listening port: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def chain(exc: BaseException) -> list[BaseException]:
    """The exception with every __cause__ and __context__, suppressed or not."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__]
    return seen


def exception_texts(exc: BaseException) -> list[str]:
    texts = ["".join(traceback.format_exception(exc))]
    for item in chain(exc):
        texts += [str(item), repr(item), repr(item.args), repr(vars(item))]
        request = getattr(item, "_request", None) or getattr(item, "request", None)
        with contextlib.suppress(Exception):
            texts.append(repr(request) + str(getattr(request, "url", "")))
    return texts


def log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = [caplog.text]
    for record in caplog.records:
        texts += [record.getMessage(), str(record.msg), repr(record.args)]
    return texts


# --- the client --------------------------------------------------------------

Call = Callable[[ApiClient], Awaitable[object]]


def unlock(link: str) -> Call:
    return lambda client: client.direct_download_link(link)


# name: (login, call, faults, client options); each ends in an ApiError
CLIENT_PATHS: dict[str, tuple[str, Call, Faults, dict[str, object]]] = {
    "400": (PREMIUM, unlock("https://example.org/a.zip"), Faults(), {}),
    "401 account": ("111111111", lambda c: c.account_status(), Faults(), {}),
    "401 hosters": ("111111111", lambda c: c.hoster_list(), Faults(), {}),
    "401 unlock": ("111111111", unlock(rg()), Faults(), {}),
    "402": (FREE, unlock(rg()), Faults(), {}),
    "403": (PREMIUM, unlock(rg("forbidden/a.zip")), Faults(), {}),
    "404": (PREMIUM, unlock(rg("missing/a.zip")), Faults(), {}),
    "428": (PREMIUM, unlock("https://share-online.biz/dl/ABCDEF123456"), Faults(), {}),
    "502": (PREMIUM, unlock(rg("broken/a.zip")), Faults(), {}),
    "503": (PREMIUM, unlock(rg("busy/a.zip")), Faults(), {}),
    "509": (EXHAUSTED, unlock(rg()), Faults(), {}),
    "0": (PREMIUM, unlock(rg("daily-limit/a.zip")), Faults(), {}),
    "2": (PREMIUM, unlock(rg("strange/a.zip")), Faults(), {}),
    "500": (PREMIUM, unlock(rg("link-limit/a.zip")), Faults(), {}),
    "timeout": (PREMIUM, unlock(rg()), Faults(hang_seconds=5), {"timeout": 0.2}),
    "reset": (PREMIUM, unlock(rg()), Faults(connection_reset=True), {}),
    "malformed": (PREMIUM, lambda c: c.hoster_list(), Faults(malformed_json=True), {}),
    "html": (PREMIUM, unlock(rg()), Faults(html_error_page=True), {}),
    "huge stream": (
        PREMIUM,
        lambda c: c.account_status(),
        Faults(huge_body_bytes=MAX_BODY_BYTES + 1024),
        {},
    ),
    "huge parse": (
        PREMIUM,
        lambda c: c.account_status(),
        Faults(huge_body_bytes=MAX_BODY_BYTES + 1024),
        {"max_body_bytes": 2 * MAX_BODY_BYTES},
    ),
}


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("pin", PINS, ids=["plain", "encoded"])
@pytest.mark.parametrize("path", list(CLIENT_PATHS))
async def test_client_error_paths_never_show_the_pin(
    path: str, pin: str, tls: bool, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    login, call, faults, options = CLIENT_PATHS[path]
    caplog.set_level(logging.DEBUG)
    with emulator_with(pin, tls) as emu:
        emu.faults = dataclasses.replace(faults)
        if tls:
            options = {**options, "ca_file": str(write_ca(emu, tmp_path))}
        client = ApiClient(emu.url, Credentials(login, pin), **options)  # type: ignore[arg-type]
        async with client:
            with pytest.raises(ApiError) as caught:
                await call(client)
            assert not leaks(repr(client), pin)
    # The request really carried the PIN, and httpx logged it: a meaningful check.
    assert sum(emu.stats.calls.values()) == 1
    assert any(r.name == "httpx" for r in caplog.records) or path in ("timeout", "reset")
    for text in exception_texts(caught.value) + log_texts(caplog):
        assert not leaks(text, pin), (path, text)


@pytest.mark.parametrize("pin", PINS, ids=["plain", "encoded"])
async def test_refused_connection_never_shows_the_pin(
    pin: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with refused_port() as port:
        url = f"http://127.0.0.1:{port}/pm-api/v1.php"
        async with ApiClient(url, Credentials(PREMIUM, pin)) as client:
            with pytest.raises(ApiError) as caught:
                await client.direct_download_link(rg())
            assert not leaks(repr(client), pin)
    assert caught.value.__context__ is None  # no httpx error (with its URL) kept around
    for text in exception_texts(caught.value) + log_texts(caplog):
        assert not leaks(text, pin), text


@pytest.mark.parametrize("pin", PINS, ids=["plain", "encoded"])
async def test_a_refused_certificate_never_shows_the_pin(
    pin: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with emulator_with(pin, tls=True) as emu:
        async with ApiClient(emu.url, Credentials(PREMIUM, pin)) as client:
            with pytest.raises(UntrustedCertificate) as caught:
                await client.direct_download_link(rg())
    assert sum(emu.stats.calls.values()) == 0  # the request never left
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    for text in exception_texts(caught.value) + log_texts(caplog):
        assert not leaks(text, pin), text


@pytest.mark.parametrize("pin", PINS, ids=["plain", "encoded"])
async def test_insecure_transport_never_shows_the_pin(
    pin: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with ApiClient("http://api.example.com/pm-api/v1.php", Credentials(PREMIUM, pin)) as c:
        with pytest.raises(InsecureTransport) as caught:
            await c.account_status()
        assert not leaks(repr(c), pin)
    for text in exception_texts(caught.value) + log_texts(caplog):
        assert not leaks(text, pin), text


async def test_a_successful_call_logs_no_pin(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    pin = PINS[0]
    with emulator_with(pin) as emu:
        async with ApiClient(emu.url, Credentials(PREMIUM, pin)) as client:
            await client.account_status()
            await client.direct_download_link(rg())
    assert any("params%5Bpass%5D=***" in r.getMessage() for r in caplog.records)
    for text in log_texts(caplog):
        assert not leaks(text, pin), text


# --- the headless commands -----------------------------------------------------


def cli_env(tmp_path: Path, pin: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKDECK_")}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[name] = str(tmp_path / name.lower())
    env["LINKDECK_PASSWORD"] = pin
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# name: (args after the command, login, faults); "{url}" is the emulator's URL
CLI_PATHS: dict[str, tuple[list[str], str, Faults]] = {
    "status 401": (["status", "--api-url", "{url}"], "111111111", Faults()),
    "hosters 401": (["hosters", "--json", "--api-url", "{url}"], "111111111", Faults()),
    "status timeout": (
        ["status", "--config", "{slow}", "--api-url", "{url}"],
        PREMIUM,
        Faults(hang_seconds=5),
    ),
    "status reset": (["status", "--api-url", "{url}"], PREMIUM, Faults(connection_reset=True)),
    "hosters reset": (["hosters", "--api-url", "{url}"], PREMIUM, Faults(connection_reset=True)),
    "status malformed": (["status", "--api-url", "{url}"], PREMIUM, Faults(malformed_json=True)),
    "hosters malformed": (
        ["hosters", "--match", rg(), "--api-url", "{url}"],
        PREMIUM,
        Faults(malformed_json=True),
    ),
    "status html": (
        ["status", "--json", "--api-url", "{url}"],
        PREMIUM,
        Faults(html_error_page=True),
    ),
    "hosters huge": (
        ["hosters", "--api-url", "{url}"],
        PREMIUM,
        Faults(huge_body_bytes=MAX_HOSTERLIST_BYTES + 1024),
    ),
    "status refused": (["status", "--api-url", "{refused}"], PREMIUM, Faults()),
    "status insecure": (
        ["status", "--api-url", "http://api.example.com/pm-api/v1.php"],
        PREMIUM,
        Faults(),
    ),
    # Over HTTPS: "{trusted}" is a config that trusts the emulator's CA.
    "https status 401": (
        ["status", "--config", "{trusted}", "--api-url", "{url}"],
        "111111111",
        Faults(),
    ),
    "https unlock 401": (
        ["unlock", rg(), "--config", "{trusted}", "--api-url", "{url}"],
        "111111111",
        Faults(),
    ),
    "https hosters reset": (
        ["hosters", "--config", "{trusted}", "--api-url", "{url}"],
        PREMIUM,
        Faults(connection_reset=True),
    ),
    "https status untrusted": (["status", "--api-url", "{url}"], PREMIUM, Faults()),
}
NOTHING_SENT = ("status refused", "status insecure", "https status untrusted")


@pytest.mark.parametrize("pin", PINS, ids=["plain", "encoded"])
def test_commands_never_print_the_pin(tmp_path: Path, pin: str) -> None:
    """All failing paths at once: one emulator per path, the commands in parallel."""
    slow = tmp_path / "slow.toml"
    # Long enough to reach the emulator on a busy machine: it bounds the whole call.
    slow.write_text("[api]\ntimeout = 1.0\n")
    slow.chmod(0o600)
    env = cli_env(tmp_path, pin)
    with contextlib.ExitStack() as stack:
        port = stack.enter_context(refused_port())
        running = {}
        for name, (args, login, faults) in CLI_PATHS.items():
            emu = stack.enter_context(emulator_with(pin, tls=name.startswith("https")))
            emu.faults = dataclasses.replace(faults)
            trusted = tmp_path / f"trusting-{emu.port}.toml"
            if emu.tls:
                trusted.write_text(f'[api]\nca_file = "{write_ca(emu, tmp_path)!s}"\n')
                trusted.chmod(0o600)
            refused = f"http://127.0.0.1:{port}/pm-api/v1.php"
            argv = [
                a.format(url=emu.url, slow=slow, refused=refused, trusted=trusted) for a in args
            ]
            command = [sys.executable, "-m", "tui", *argv, "--login", login]
            running[name] = (
                subprocess.Popen(
                    command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                ),
                emu,
            )
        results = {
            name: (proc.communicate(timeout=30), proc.returncode, emu)
            for name, (proc, emu) in running.items()
        }
    for name, ((out, err), code, emu) in results.items():
        assert code in (2, 3, 4), (name, code, err)
        assert "Traceback" not in err, (name, err)
        assert err.startswith("linkdeck: "), (name, err)
        assert not leaks(out, pin) and not leaks(err, pin), (name, out, err)
        expected_calls = 0 if name in NOTHING_SENT else 1
        assert sum(emu.stats.calls.values()) == expected_calls, name
