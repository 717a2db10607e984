"""Text from the server is shown literally and safely, everywhere it is shown.

A hostile server (tests/hostile.py) puts Rich markup, terminal escapes (CSI,
OSC, OSC 52, C1), zero-width and right-to-left characters, wide characters,
emoji, combining marks and a 10,000-character string into every field the app
shows: hoster names and TLDs, the account's name and type, status messages,
file names and direct links. The dashboard is checked through what it renders:
the frame Textual would write to the terminal (its escape sequences are only
colours and cursor moves), the text on screen (each payload's visible part, made
plain, is there: markup was not interpreted), and the layout (regions keep their
size, every line is exactly the terminal's width). The real program runs once
in a pseudo-terminal, and the headless commands are checked in both modes.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from deck import settle, wait_for
from hostile import NAMES, PAYLOADS, HostileServer, link
from ptyrun import PtyRun
from rich.cells import cell_len
from rich.console import Console
from textual import events
from textual.pilot import Pilot

from tui.app import LinkdeckApp
from tui.cli import main
from tui.core import Profile
from tui.settings import Settings
from tui.untrusted import plain

# What a frame of Textual holds besides text: colours (SGR) and cursor moves.
TEXTUAL_FRAME = re.compile(r"\x1b\[[0-9;:]*[mH]")
# Everything the real program writes to a terminal by itself: CSI sequences
# (modes, SGR, cursor moves, keyboard protocol queries) and OSC 22 (pointer).
TEXTUAL_STREAM = re.compile(r"\x1b\[[0-9;:?<>=$]*[A-Za-z~]|\x1b\]22;[a-z-]*\x07")
# Markup and controls that must never be interpreted: shown as typed.
SAFE_LOCATION = {n for n, p in PAYLOADS.items() if plain(p) == p}


def visible(payload: str, n: int = 6) -> str:
    """The first characters of `payload` as the screen must show them."""
    return plain(payload)[:n]


def unsafe(text: str) -> list[str]:
    """Characters a terminal would act on or that hide text: controls, C1,
    zero-width and bidi format characters (plain() replaces exactly those)."""
    return sorted({c for c in text.replace("\n", "") if plain(c) != c})


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as hostile:
        yield hostile


def profile_for(server: HostileServer, tmp_path: Path) -> Profile:
    settings = Settings()
    api = replace(settings.api, url=server.url, login=server.login, password=server.pin)
    return Profile(
        replace(settings, api=api),
        config_path=tmp_path / "config" / "config.toml",
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
    )


class UnsafeFrame(Exception):
    """The terminal would have received a character from the server it acts on."""


def frame(app: LinkdeckApp) -> list[str]:
    """The screen's lines as text, after checking the bytes of a full frame:
    only Textual's colours and cursor moves, nothing the server sent."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
    )
    raw = update.render_segments(console)
    leftover = TEXTUAL_FRAME.sub("", raw)
    if unsafe(leftover):  # not an AssertionError: wait_for must not wait it out
        raise UnsafeFrame(f"the frame holds {unsafe(leftover)!r}")
    lines = ["".join(seg.text for strip in line for seg in strip) for line in update.strips]
    assert len(lines) == height
    for number, line in enumerate(lines):
        assert cell_len(line) == width, f"line {number} is {cell_len(line)} cells: {line!r}"
    return lines


def screen_text(app: LinkdeckApp) -> str:
    return "\n".join(frame(app))


async def shows(pilot: Pilot[Any], app: LinkdeckApp, *texts: str) -> str:
    """Wait until the rendered screen holds every one of `texts`; return it."""
    try:
        await wait_for(pilot, lambda: all(t in screen_text(app) for t in texts), 3.0)
    except AssertionError:
        raise AssertionError(f"{texts!r} not on screen:\n{screen_text(app)}") from None
    return screen_text(app)


def toast(text: str) -> str:
    """The copy toast's text, its wrapped lines joined."""
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if "Copied the direct link" in line)
    column = lines[row].index("Copied")
    return " ".join(line[column : column + 54].strip() for line in lines[row : row + 3])


async def queue(pilot: Pilot[Any], app: LinkdeckApp, links: list[str]) -> None:
    await pilot.press("u")
    app.post_message(events.Paste("\n".join(links)))
    await pilot.pause()
    await pilot.press("enter")
    await settle(pilot, app)


# --- the dashboard ------------------------------------------------------------


async def test_account_fields(server: HostileServer, tmp_path: Path) -> None:
    app = LinkdeckApp(profile_for(server, tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        for payload in PAYLOADS.values():
            server.account_name = server.account_type = payload
            await pilot.press("r")
            server.account_type = payload + "T"
            await pilot.press("r")
            await shows(pilot, app, f"{visible(payload + 'T', 3)}")
            await wait_for(pilot, lambda: app.query_one("#account-identity").content != "")
            text = await shows(pilot, app, visible(payload))
            line = next(line for line in text.splitlines() if "can download" in line)
            assert line.count(visible(payload)) >= 2, line  # name and type
            assert "can download " in line, line  # never cut off by them


async def test_hoster_names_tlds_and_filter(server: HostileServer, tmp_path: Path) -> None:
    app = LinkdeckApp(profile_for(server, tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("2", "slash")
        search = app.focused
        assert search is not None and hasattr(search, "value")
        for i, payload in enumerate(PAYLOADS.values()):
            search.value = f"h{i}.example"  # its TLD: one row
            text = await shows(pilot, app, "1 of 15", visible(payload))
            row = next(line for line in text.splitlines() if visible(payload) in line)
            assert row.count(visible(payload)) >= 2, row  # name and TLDs
        # The filter matches the names literally, markup and wide characters too.
        for query, payload in (("[bold]", "bold"), ("a[/]", "close"), ("全角", "wide")):
            search.value = query
            text = await shows(pilot, app, "1 of 15", visible(PAYLOADS[payload]))


async def test_unlock_log_detail_and_copy(server: HostileServer, tmp_path: Path) -> None:
    app = LinkdeckApp(profile_for(server, tmp_path))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        # One of each kind (the others take the same paths; the CLI tests take all).
        names = ["bold", "close", "osc52", "c1", "rtl", "wide", "combining", "long"]
        links = [link(name, outcome) for name in names for outcome in ("done", "fail")]
        links += [link(name, "file") for name in names if name not in SAFE_LOCATION]
        await queue(pilot, app, links)
        await pilot.press("escape", "3", "home")
        seen: set[str] = set()
        for _ in links:
            app.clear_notifications()
            await pilot.press("enter")  # the detail
            text = await shows(pilot, app, "Attempts")
            found = re.search(r"https://h(\d+)\.example/(\w+)/x", text)
            assert found is not None, text
            name, outcome = NAMES[int(found[1])], found[2]
            payload = PAYLOADS[name]
            seen.add(found[0])
            lines = text.splitlines()
            summary = {  # the label's line and the next, for a wrapped value
                label: next(
                    " ".join(lines[i : i + 2])
                    for i, line in enumerate(lines)
                    if f" {label}  " in line
                )
                for label in ("hoster", "file")
            }
            assert visible(payload) in summary["hoster"]
            if outcome == "fail":
                # The message, made plain, after the code in the answer.
                assert f"0 {visible(payload)}" in text
            elif outcome == "done" and name not in SAFE_LOCATION:
                assert "location contains control or invisible characters" in text
            else:
                assert visible(payload) in summary["file"]
                if outcome == "done":
                    assert "http://files.example/dl/" + visible(payload) in text
            await pilot.press("escape")
            if outcome != "fail" and (outcome == "file" or name in SAFE_LOCATION):
                await pilot.press("c")
                text = await shows(pilot, app, "Copied the direct link of")
                assert visible(payload) in toast(text), text
                assert app.clipboard.startswith("http://files.example/dl/")
                assert not unsafe(app.clipboard)
            await pilot.press("down")
        assert seen == set(links)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
async def test_layout_holds(server: HostileServer, tmp_path: Path, size: tuple[int, int]) -> None:
    """Benign data first, then every payload, a 10,000-character account name
    and wide characters: the regions keep their place and size."""
    hostile = server.payloads
    server.payloads = {f"host{i}.example": f"host{i}.example" for i in range(len(hostile))}
    app = LinkdeckApp(profile_for(server, tmp_path))
    async with app.run_test(size=size, notifications=True) as pilot:
        await settle(pilot, app)
        await queue(pilot, app, [link(name, "done") for name in NAMES[:3]])

        def regions() -> dict[str, Any]:
            screen = app.screen
            found = {"account": screen.query_one("#account").region}
            for selector in ("#hosters", "#unlock", "Footer"):
                found[selector] = screen.query_one(selector).region
            return found

        async def each_region() -> list[dict[str, Any]]:
            found = []
            for key in ("2", "3"):  # on 80x24 one region shows at a time
                await pilot.press("escape", key)
                lines = frame(app)
                assert "Unlock" in lines[-1]  # the footer on the last line
                found.append(regions())
            return found

        before = await each_region()
        server.payloads = hostile
        server.account_name, server.account_type = PAYLOADS["long"], PAYLOADS["wide"] * 5
        await pilot.press("r")
        await shows(pilot, app, "L" * 10, visible(PAYLOADS["wide"], 2), "can download")
        await queue(pilot, app, [link(name, o) for name in NAMES for o in ("done", "fail")])
        after = await each_region()
        assert after == before
        assert after[0]["Footer"].y == size[1] - 1
        assert after[0]["account"].height >= 3


# --- the real program in a terminal -------------------------------------------


def cli_env(tmp_path: Path, server: HostileServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKDECK_")}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[name] = str(tmp_path / name.lower())
    return {**env, "LINKDECK_PASSWORD": server.pin, "PYTHONDONTWRITEBYTECODE": "1"}


def test_terminal_receives_no_escape_from_the_server(server: HostileServer, tmp_path: Path) -> None:
    """The bytes `linkdeck` writes to a pty hold only Textual's own sequences,
    and the payloads as plain text: no clear screen, no colour, no window
    title, no clipboard write (OSC 52 only from a copy, with a clean link)."""
    server.account_name = "\x1b]0;title\x07\x1b[2J\x9b31m[bold]acct"
    args = ["--api-url", server.url, "--login", server.login]
    with PtyRun(args, cli_env(tmp_path, server)) as run:
        run.wait_for(b"refreshed", 20)
        links = [link(name, o) for name in NAMES[:10] for o in ("done", "fail")]
        run.send("u")
        run.send("\x1b[200~" + "\n".join(links) + "\x1b[201~")
        run.send("\r")
        run.wait_for(b"10 failed")
        run.back_to_dashboard()
        run.send("\x1b[H", 0.3)  # home: the first item, [bold]x[/bold]'s done link
        run.send("c", 0.5)
        assert run.quit() == 0
    out = bytes(run.output).decode("utf-8", "replace")
    copies = re.findall(r"\x1b\]52;c;([A-Za-z0-9+/=]*)\x07", out)
    assert len(copies) == 1 and copies[0] != "ZXZpbA=="
    leftover = re.sub(r"\x1b\]52;c;[A-Za-z0-9+/=]*\x07", "", TEXTUAL_STREAM.sub("", out))
    leftover = leftover.replace("\r", "")
    assert not unsafe(leftover), unsafe(leftover)
    for sequence in ("\x1b]0;", "\x1b[2J", "\x1b[31m", "\x9b", "\x9d", "\x07T", "\u202e"):
        assert sequence not in out
    shown = ["bold", "link", "close", "open", "clear", "sgr", "title", "osc52", "c1"]
    for payload in (*(PAYLOADS[n] for n in shown), server.account_name):
        assert visible(payload) in out, payload


# --- the headless commands ----------------------------------------------------


def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, server: Any, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("LINKDECK_PASSWORD", server.pin)
    code = main([*args, "--api-url", server.url, "--login", server.login])
    out, err = capsys.readouterr()
    for stream in (out, err):
        assert not unsafe(stream), unsafe(stream)
    return code, out, err


def test_cli_status(
    server: HostileServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for payload in PAYLOADS.values():
        server.account_name = server.account_type = payload
        code, out, _ = run_cli(capsys, monkeypatch, server, "status")
        assert code == 0 and f"account   {visible(payload)}" in out
        assert f"type      {visible(payload)}" in out
        code, out, _ = run_cli(capsys, monkeypatch, server, "status", "--json")
        assert code == 0 and json.loads(out)["account_name"] == payload  # escaped, exact
        server.account_error = (500, payload)  # the message on stderr, plain
        code, out, err = run_cli(capsys, monkeypatch, server, "status")
        assert code == 4 and out == "" and visible(payload) in err
        assert len(err.splitlines()) == 1
        server.account_error = None


def test_cli_hosters(
    server: HostileServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_cli(capsys, monkeypatch, server, "hosters")
    assert code == 0
    for payload in PAYLOADS.values():
        assert any(line.startswith(visible(payload)) for line in out.splitlines())
    code, out, _ = run_cli(capsys, monkeypatch, server, "hosters", "--json")
    assert code == 0
    assert sorted(h["name"] for h in json.loads(out)) == sorted(PAYLOADS.values())
    for name, payload in PAYLOADS.items():
        url = link(name, "done")
        code, out, _ = run_cli(capsys, monkeypatch, server, "hosters", "--match", url)
        assert code == 0 and out.startswith(visible(payload))
        code, out, _ = run_cli(capsys, monkeypatch, server, "hosters", "--match", url, "--json")
        assert json.loads(out) == {"name": payload}


@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_cli_unlock(
    server: HostileServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    as_json: bool,
) -> None:
    links = [link(name, o) for name in NAMES for o in ("done", "file", "fail")]
    flags = ["--json"] if as_json else []
    code, out, _ = run_cli(capsys, monkeypatch, server, "unlock", "--no-retry", *flags, *links)
    assert code == 1  # some failed
    lines = out.splitlines()
    assert len(lines) == len(links)
    for line in lines:
        found = re.search(r"https://h(\d+)\.example/(\w+)/x", line)
        assert found is not None, line
        name, outcome = NAMES[int(found[1])], found[2]
        payload = PAYLOADS[name]
        if not as_json:
            twice = outcome == "fail" or (outcome == "done" and name in SAFE_LOCATION)
            assert line.count(visible(payload)) >= (2 if twice else 1), line
            continue
        record = json.loads(line)
        assert record["hoster"] == plain(payload)
        if outcome == "fail":
            assert record["message"] == "0 undocumented error: " + plain(payload, 200)
        elif outcome == "done" and name not in SAFE_LOCATION:
            assert record["state"] == "failed" and "control" in record["message"]
        else:
            assert record["filename"] == plain(payload)
            if outcome == "done":
                assert record["location"] == "http://files.example/dl/" + payload[:5000]
