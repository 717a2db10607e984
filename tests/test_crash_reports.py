"""A crash shows no PIN, and costs the user nothing.

Textual's crash report prints every frame's local variables, and Python's
traceback every exception's message. The real program runs in a pty (the
dashboard) or as a subprocess (the CLI) with a crash injected at one depth by
a `sitecustomize` of the test's own, and the PIN coming from
`password_command`. Everything it wrote (the pty stream, stderr, every file
but config.toml) is searched for the PIN, raw, percent-encoded and in base64.
Then a start without the crash must work, and a link queued before the crash
must still end done.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from commandline import isolated_env
from ptyrun import PtyRun
from test_no_leaks import LOGIN, PIN, forms
from tlsemulator import write_ca

from tui.emulator import AccountSpec, Emulator, default_scenario
from tui.unlock.items import ItemState

LINK = "https://uploaded.net/file/abcd1234/holiday.zip"

# Each depth replaces one function with one that raises. "transport" raises
# inside httpcore, below httpx, where every frame holds the request URL.
SITECUSTOMIZE = """
import os

WHERE = os.environ.get("CRASH_AT", "")


def _boom(*args, **kwargs):
    raise RuntimeError(f"injected crash ({WHERE})")


async def _async_boom(*args, **kwargs):
    _boom()


if WHERE == "connect":
    import tui.unlock.engine
    tui.unlock.engine.UnlockEngine.start = _async_boom
elif WHERE == "refresh":
    import tui.api.client
    tui.api.client.parse_account_status = _boom
elif WHERE == "unlock":
    import tui.api.client
    tui.api.client.parse_direct_link = _boom
elif WHERE == "transport":
    import httpcore
    httpcore.AsyncConnectionPool.handle_async_request = _async_boom
elif WHERE == "row":
    import tui.widgets.unlock_log
    tui.widgets.unlock_log.UnlockRegion._link_text = _boom
elif WHERE == "client":
    import tui.api.client
    tui.api.client.ApiClient._get = _async_boom
"""


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    scenario = default_scenario()
    scenario.accounts = [AccountSpec(LOGIN, PIN, "premium", expires_in_days=30, fairuse_left=0.8)]
    with Emulator(scenario) as emu:
        yield emu


@pytest.fixture
def setup(tmp_path: Path, emulator: Emulator) -> tuple[Path, dict[str, str]]:
    """A config whose PIN comes from a password command, and the environment
    (isolated XDG directories, the crash-injecting sitecustomize on the path)."""
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(SITECUSTOMIZE)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    script = secrets / "print-pin.py"
    script.write_text(f"print({PIN!r})\n")
    config = tmp_path / "xdg_config_home" / "linkdeck" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        f'[api]\nurl = "{emulator.url}"\nlogin = "{LOGIN}"\n'
        f'password_command = "{sys.executable} {script}"\n'
        "[unlock]\nretry_delay = 1\n"
    )
    config.chmod(0o600)
    path = os.pathsep.join(p for p in (str(inject), os.environ.get("PYTHONPATH", "")) if p)
    return config, isolated_env(tmp_path, PYTHONPATH=path)


def leaked(data: bytes) -> list[bytes]:
    return [form for form in forms(PIN) if form in data]


def assert_nothing_written_holds_the_pin(tmp_path: Path) -> None:
    for root in ("xdg_config_home", "xdg_data_home", "xdg_cache_home", "xdg_state_home"):
        for path in (tmp_path / root).rglob("*"):
            if path.is_file() and path.name != "config.toml":
                assert not leaked(path.read_bytes()), f"{path} holds the PIN"


def run_dashboard(
    env: dict[str, str], crash_at: str, unlock: bool, until: Callable[[], bool] | None = None
) -> tuple[bytes, int | None]:
    """The dashboard with the crash at `crash_at`; returns what it wrote and its
    exit code (None if it is still running after the steps: it is then quit).
    It runs for 4 s, or with `until` until that is true (30 s at most)."""
    with PtyRun([], {**env, "CRASH_AT": crash_at}) as run:
        # The footer is in the first frame; then give the connection a moment.
        run.wait_for(lambda out: b"Settings" in out or run.proc.poll() is not None, 30)
        run.read(1.5)
        if unlock and run.proc.poll() is None:
            run.send("u")
            run.send("\x1b[200~" + LINK + "\x1b[201~")
            run.send("\r")
        deadline = time.monotonic() + (4 if until is None else 30)
        while run.proc.poll() is None and time.monotonic() < deadline:
            if until is not None and until():
                break
            run.read(0.1)
        code = run.proc.poll()
        if code is None:
            run.back_to_dashboard()
            run.quit()
        return bytes(run.output), code


# Depths that end in Textual's crash report, and those the app survives.
CRASHING = ["connect", "row"]
SURVIVED = ["refresh", "unlock", "transport", "client"]
POLLED = ["refresh"]
"""Depths a refresh of the account meets first: the poll reports them."""


@pytest.mark.parametrize("crash_at", CRASHING + SURVIVED)
def test_a_crash_in_the_dashboard_shows_no_pin_and_costs_nothing(
    crash_at: str, setup: tuple[Path, dict[str, str]], tmp_path: Path, emulator: Emulator
) -> None:
    _config, env = setup
    output, code = run_dashboard(env, crash_at, unlock=crash_at != "connect")
    assert not leaked(output), leaked(output)
    if crash_at in CRASHING:
        # The crash report was printed, with the frames' local variables.
        assert code == 1, output[-3000:]
        assert b"injected crash" in output and b"locals" in output, output[-3000:]
    if crash_at in POLLED:
        # Seen: one sentence on screen, the whole record in the log file.
        assert b"Unexpected error" in output, output[-3000:]  # the toast's title
        log = tmp_path / "xdg_state_home" / "linkdeck" / "linkdeck.log"
        assert b"RuntimeError: injected crash" in log.read_bytes()
        assert log.stat().st_mode & 0o777 == 0o600
    assert_nothing_written_holds_the_pin(tmp_path)

    # The next start works, and a link queued before the crash ends done. A
    # crash while parsing the answer ended it as failed ("internal error"), to
    # retry by hand; everywhere else the link was on disk and is sent again.
    expected = ItemState.FAILED if crash_at == "unlock" else ItemState.DONE
    database = tmp_path / "xdg_data_home" / "linkdeck" / "history.sqlite3"

    def link_state() -> str | None:
        with closing(sqlite3.connect(database)) as db:
            row = db.execute("SELECT state FROM items WHERE link = ?", (LINK,)).fetchone()
        return row and row[0]

    output, code = run_dashboard(
        env, "", unlock=crash_at == "connect", until=lambda: link_state() == expected
    )
    assert code is None and b"premium" in output, output[-3000:]
    assert not leaked(output)
    assert link_state() == expected


@pytest.mark.parametrize("crash_at", ["refresh", "unlock", "transport", "client"])
@pytest.mark.parametrize("command", ["status", "hosters", "unlock"])
def test_a_crash_in_a_command_shows_no_pin(
    command: str, crash_at: str, setup: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _config, env = setup
    argv = [sys.executable, "-m", "tui", command, *([LINK] if command == "unlock" else [])]
    result = subprocess.run(
        argv,
        env={**env, "CRASH_AT": crash_at},
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert not leaked(result.stdout + result.stderr), result.stderr.decode(errors="replace")
    assert_nothing_written_holds_the_pin(tmp_path)
    # The next run without the crash works.
    again = subprocess.run(argv, env=env, capture_output=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert not leaked(again.stdout + again.stderr)


def rendered_with_locals(error: BaseException) -> bytes:
    """The error as Textual's crash report renders it: every frame's locals."""
    from rich.console import Console
    from rich.traceback import Traceback

    console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    trace = Traceback.from_exception(
        type(error), error, error.__traceback__, show_locals=True, locals_max_length=50
    )
    console.print(trace)
    console.file.close()
    return console.export_text().encode()


@pytest.mark.parametrize(
    ("target", "tls"),
    [
        ("tui.api.client.parse_account_status", False),
        ("httpcore.AsyncConnectionPool.handle_async_request", False),
        ("tui.api.client.parse_account_status", True),
        ("ssl.SSLContext.wrap_bio", True),  # in the TLS handshake
    ],
)
async def test_every_frame_of_a_failed_call_is_safe_to_show_with_its_locals(
    target: str, tls: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Whatever fails below the client, over HTTP or HTTPS, the traceback that
    reaches the UI shows no PIN in any frame's variables: not in the query, not
    in a URL's repr."""
    from tui.api.client import ApiClient
    from tui.api.transport import Credentials
    from tui.settings import ApiSettings, resolve_password

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected")

    scenario = default_scenario()
    scenario.accounts = [AccountSpec(LOGIN, PIN, "premium", expires_in_days=30, fairuse_left=0.8)]
    emulator = Emulator(scenario, tls=tls).start()
    script = tmp_path / "print-pin.py"
    script.write_text(f"print({PIN!r})\n")
    pin = resolve_password(ApiSettings(password_command=f"{sys.executable} {script}"))
    client = ApiClient(
        emulator.url,
        Credentials(LOGIN, pin),
        ca_file=str(write_ca(emulator, tmp_path)) if tls else "",
    )
    monkeypatch.setattr(target, boom)
    try:
        with pytest.raises(Exception) as caught:
            await client.account_status()
    finally:
        await client.aclose()
        emulator.stop()
    shown = rendered_with_locals(caught.value)
    assert b"injected" in shown or b"RuntimeError" in shown, shown
    assert b"locals" in shown or b"self" in shown
    assert not leaked(shown), shown.decode()


@pytest.mark.parametrize("depth", ["test", "save"])
async def test_a_crash_from_the_settings_form_shows_no_pin(
    depth: str, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """First run: the PIN typed in the form, then a crash below the form's
    handlers (the connection test, or the connect that a save starts). Every
    frame of the crash, the form's own data included, is shown without it."""
    from textual.widgets import Input

    from tui.app import LinkdeckApp
    from tui.core import Profile
    from tui.screens.settings_form import SettingsScreen
    from tui.settings import Settings

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected")

    if depth == "test":
        monkeypatch.setattr("tui.screens.settings_form.ApiClient", boom)
    else:
        # The session imports the engine when it first connects.
        monkeypatch.setattr("tui.unlock.engine.UnlockEngine", boom)
    profile = Profile(Settings(), tmp_path / "config.toml", tmp_path / "data", tmp_path / "cache")
    app = LinkdeckApp(profile)
    with pytest.raises(RuntimeError) as caught:
        async with app.run_test(size=(120, 40)) as pilot:
            # The form pushed, and composed (its rows are made then).
            for _ in range(50):
                if isinstance(app.screen, SettingsScreen) and app.screen._rows:
                    break
                await pilot.pause(0.1)
            screen = app.screen
            assert isinstance(screen, SettingsScreen)
            for key, value in (
                ("api.url", emulator.url),
                ("api.login", LOGIN),
                ("api.password", PIN),
            ):
                control = screen._rows[key].control
                assert isinstance(control, Input)
                control.value = value
            await pilot.pause()
            if depth == "test":
                # The worker's own failure is not a crash: make it one, as a bug would.
                screen._test_connection = lambda api: boom()  # type: ignore[method-assign]
            await pilot.press("ctrl+t" if depth == "test" else "ctrl+s")
            await pilot.pause(1.0)
    shown = rendered_with_locals(caught.value)
    assert b"injected" in shown
    assert not leaked(shown), shown.decode()
