"""A property-based hostile server: any JSON at all, in every field, at any pace.

For each of the three calls, hypothesis draws the answer: either the whole
envelope, or an envelope whose `status`, `statusmessage` and `result` (and the
fields inside a plausible result) are each any JSON value: wrong types, huge
and tiny numbers, NaN, lone surrogates, NUL, nesting. It draws the time the
server takes too, around the client's deadline. The client, the commands and
the dashboard are driven through it. Whatever comes:

- the client returns a model or raises a LinkdeckError, nothing else, and a
  model holds only what can be stored and printed;
- a command exits with a documented code, one sentence on stderr when it
  fails, never a traceback, and what `--json` prints is JSON;
- the history and the caches written meanwhile read back;
- the dashboard neither crashes nor leaves an unlock running.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from commandline import run_linkdeck
from deck import settle
from hostile import HostileServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.api import ApiClient, Credentials, LinkdeckError
from tui.app import LinkdeckApp
from tui.core import Profile
from tui.settings import Settings
from tui.unlock import History, ItemState

LOGIN, PIN = "123456789", "1111"
LINK = "https://h0.example/done/x"
TIMEOUT = 0.5
"""The client's deadline here: the server's pace is drawn around it."""

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text()
    | st.sampled_from(["\ud800", "a\x00b", "\ufffe", "9" * 400, "1e999", "-1", "0.5"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def field_values(**fields: Any) -> st.SearchStrategy[dict[str, Any]]:
    """A plausible result: each field its usual value or any JSON value, or left out."""
    return st.fixed_dictionaries(
        {},
        optional={name: st.one_of(st.just(usual), values) for name, usual in fields.items()},
    )


results = {
    "accountstatus": field_values(
        account_name="benign", type="premium", expires=1_900_000_000, fairuse_left=0.5
    ),
    "hosterlist": st.fixed_dictionaries(
        {
            "hosters": st.dictionaries(
                st.text(max_size=12) | st.just("h0.example"),
                field_values(
                    tlds=["h0.example"],
                    regexes=[r"https?://h0\.example/.*"],
                    connection_settings={"max_connections_per_file": 4},
                )
                | values,
                max_size=4,
            )
            | values
        },
        optional={"connection_settings": values},
    ),
    "directdownloadlink": field_values(
        location="http://files.example/dl/x", filename="x.zip", filesize=1234
    ),
}


@dataclasses.dataclass(frozen=True)
class Answer:
    """One drawn answer: its JSON (or raw bytes), its HTTP status, and its pace."""

    body: Any
    http_status: int = 200
    raw: bytes | None = None
    """Bytes sent instead of the JSON: not JSON, not UTF-8, or cut short."""
    delay: float = 0.0
    """Seconds before the headers."""
    dribble: float = 0.0
    """Seconds between the body's bytes, in chunks of 16."""
    short: bool = False
    """Content-Length claims more than is sent, then the connection closes."""


@st.composite
def answers(draw: st.DrawFn, method: str) -> Answer:
    """What the server sends for `method`: a whole envelope or a drawn result, raw
    bytes now and then, at a drawn HTTP status and pace."""
    if draw(st.booleans()):
        envelope: Any = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "status": st.one_of(st.sampled_from([200, 0, 2, 500, 503, 509]), values),
                    "statusmessage": st.one_of(st.just("OK"), values),
                    "result": st.one_of(results[method], values),
                },
            )
            | values
        )
    else:
        envelope = {"status": 200, "statusmessage": "OK", "result": draw(results[method])}
    raw = draw(
        st.none()
        | st.none()
        | st.none()
        | st.binary(max_size=64)
        | st.sampled_from([b"", b"{", b'{"status": 200', b"\xff\xfe{}", b"null", b"[]"])
    )
    return Answer(
        envelope,
        http_status=draw(st.sampled_from([200, 200, 200, 400, 401, 404, 500, 502, 503, 302])),
        raw=raw,
        delay=draw(st.sampled_from([0.0, 0.0, 0.0, TIMEOUT / 2, TIMEOUT * 1.5])),
        dribble=draw(st.sampled_from([0.0, 0.0, 0.0, 0.01, 0.05])),
        short=draw(st.booleans()) and draw(st.booleans()),
    )


class DrawnServer(HostileServer):
    """The hostile server, answering each method as the test last drew it."""

    def __init__(self) -> None:
        super().__init__(LOGIN, PIN)
        self.answers: dict[str, Answer] = {}
        self._server.RequestHandlerClass = _DrawnHandler

    def set(self, method: str, answer: Answer) -> None:
        self.answers[method] = answer

    def clear(self) -> None:
        self.answers.clear()


class _DrawnHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request line holds the PIN."""

    def do_GET(self) -> None:
        drawn: DrawnServer = self.server.owner  # type: ignore[attr-defined]
        params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        answer = drawn.answers.get(params.get("method", ""))
        if answer is None:  # not drawn: the usual answer
            status, data = drawn.answer(params)
            answer = Answer(data, http_status=status)
        body = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
        time.sleep(answer.delay)
        try:
            self.send_response(answer.http_status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) + (100 if answer.short else 0)))
            if answer.http_status == 302:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.end_headers()
            for start in range(0, len(body), 16 if answer.dribble else len(body) or 1):
                self.wfile.write(body[start : start + 16 if answer.dribble else len(body)])
                self.wfile.flush()
                time.sleep(answer.dribble)
            if answer.short:
                self.close_connection = True
        except OSError:
            pass  # the client gave up (its deadline): nothing to say to it


@pytest.fixture(scope="module")
def server() -> Iterator[DrawnServer]:
    with DrawnServer() as drawn:
        yield drawn


def storable(value: Any) -> None:
    """`value` (a model) holds only text every file and terminal takes."""
    for text in _strings(dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value):
        text.encode("utf-8")  # a lone surrogate raises
        assert "\x00" not in text


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _strings(item)


METHODS = ["accountstatus", "hosterlist", "directdownloadlink"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_client_returns_a_model_or_a_linkdeck_error(server: DrawnServer, data: Any) -> None:
    method = data.draw(st.sampled_from(METHODS))
    server.clear()
    server.set(method, data.draw(answers(method)))

    async def call() -> Any:
        async with ApiClient(server.url, Credentials(LOGIN, PIN), timeout=TIMEOUT) as client:
            if method == "accountstatus":
                return await client.account_status()
            if method == "hosterlist":
                return await client.hoster_list()
            return await client.direct_download_link(LINK)

    started = time.monotonic()
    try:
        model = asyncio.run(call())
    except LinkdeckError as error:
        str(error).encode("utf-8")  # the sentence shown for it prints too
    else:
        storable(model)
    assert time.monotonic() - started < TIMEOUT + 2  # the deadline holds


def command(server: DrawnServer, home: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    config = home / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"[api]\ntimeout = {TIMEOUT}\n")
    config.chmod(0o600)
    return run_linkdeck(
        home,
        *args,
        LINKDECK_PASSWORD=PIN,
        LINKDECK_API_URL=server.url,
        LINKDECK_LOGIN=LOGIN,
        LINKDECK_CONFIG=str(config),
    )


def check_command(result: subprocess.CompletedProcess[bytes], as_json: bool) -> None:
    err = result.stderr.decode("utf-8")  # stderr is text the terminal takes
    assert "Traceback" not in err, err
    assert result.returncode in (0, 1, 2, 3, 4), (result.returncode, err)
    out = result.stdout.decode("utf-8")
    lines = [line for line in err.splitlines() if not line.startswith("linkdeck: warning")]
    assert all(line.startswith("linkdeck: ") for line in lines), err
    if result.returncode in (2, 3, 4) and not out:
        assert len(lines) == 1, err  # an error of the command: one sentence
    elif result.returncode == 4:
        assert '"state": "failed"' in out or '"state": "waiting"' in out  # an item failed
    if as_json and result.returncode in (0, 1):
        for line in out.splitlines():
            json.loads(line)


def check_files(history: Path, caches: Path) -> None:
    """The history and the caches written meanwhile read back."""
    if history.exists():
        with History(history) as opened:
            for item in opened.search(""):
                storable(item)
    for cache in caches.rglob("*.json"):
        json.loads(cache.read_text("utf-8"))


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("accountstatus", ["status", "--json"]),
        ("hosterlist", ["hosters", "--json"]),
        ("hosterlist", ["unlock", "--json", "--no-retry", LINK]),
        ("directdownloadlink", ["unlock", "--json", "--no-retry", LINK]),
    ],
)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_commands_end_with_their_contract(
    server: DrawnServer,
    tmp_path_factory: pytest.TempPathFactory,
    method: str,
    args: list[str],
    data: Any,
) -> None:
    server.clear()
    server.set(method, data.draw(answers(method)))
    home = tmp_path_factory.mktemp("home")
    check_command(command(server, home, *args), as_json=True)
    check_files(home / "xdg_data_home" / "linkdeck" / "history.sqlite3", home / "xdg_cache_home")
    # Whatever the last answer left on disk, the next start reads it.
    server.clear()
    check_command(command(server, home, *args), as_json=True)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_dashboard_survives_any_answer(
    server: DrawnServer, tmp_path_factory: pytest.TempPathFactory, data: Any
) -> None:
    server.clear()
    for method in METHODS:
        # Now and then the usual answer, so that the calls after it are made too
        # (a link is sent only when the hoster list names its hoster).
        if data.draw(st.booleans(), label=f"{method} drawn"):
            server.set(method, data.draw(answers(method)))
    home = tmp_path_factory.mktemp("deck")
    settings_ = Settings()
    settings_ = dataclasses.replace(
        settings_,
        api=dataclasses.replace(
            settings_.api, url=server.url, login=LOGIN, password=PIN, timeout=TIMEOUT
        ),
    )
    profile = Profile(
        settings=settings_,
        config_path=home / "config.toml",
        data_dir=home / "data",
        cache_dir=home / "cache",
    )

    async def drive() -> None:
        app = LinkdeckApp(profile)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot, app, account=False, hosters=False, timeout=10)
            await pilot.press("u")
            await pilot.press(*LINK, "enter")
            deadline = time.monotonic() + 10
            while app.session.engine is not None and any(
                item.state is ItemState.UNLOCKING for item in app.session.engine.items.values()
            ):
                assert time.monotonic() < deadline, "an unlock never ended"
                await pilot.pause(0.05)
            # What was shown of it: the item's detail, a refresh of everything.
            await pilot.press("escape", "end", "enter")
            await pilot.pause()
            await pilot.press("escape", "r")
            await pilot.pause(TIMEOUT * 2)
        assert app.return_code in (None, 0)

    asyncio.run(drive())
    check_files(profile.history_path, profile.cache_dir)
