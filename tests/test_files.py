"""Files that are not what they seem: a damaged history, a symbolic link where
linkdeck keeps its history, caches or exports, a config file of another user.

Everything runs the real program: the dashboard in a pseudo-terminal and
`linkdeck unlock` / `linkdeck status` as subprocesses, against the emulator.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from commandline import isolated_env, one_sentence
from deck import settle, wait_for
from ptyrun import PtyRun
from textual.widgets import Input

from tui.api import Hoster, HosterList
from tui.app import LinkdeckApp
from tui.core import Profile
from tui.disk_cache import cache_file, save_hosters
from tui.emulator import Emulator
from tui.unlock import FakeClock
from tui.unlock.history import History
from tui.unlock.items import Attempt, Item, ItemState

LOGIN, PIN = "111111111", "1111"
LINK = "https://uploaded.net/file/abc12345/x.zip"  # done in the emulator
T0 = 1_800_000_000.0
ASIDE = re.compile(r"history\.sqlite3\.damaged-\d{8}-\d{6}(-\d+)?")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path, LINKDECK_PASSWORD=PIN)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def history_path(tmp_path: Path) -> Path:
    return tmp_path / "xdg_data_home" / "linkdeck" / "history.sqlite3"


def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "xdg_cache_home" / "linkdeck"


# --- damaged histories -----------------------------------------------------


def real_history(path: Path, count: int = 300) -> None:
    """A history written by linkdeck itself, big enough to span many pages."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with History(path) as history:
        history.insert(
            Item(
                id=0,
                link=f"https://uploaded.net/file/old{n:05d}/file-{n}.zip",
                hoster="uploaded.net",
                state=ItemState.DONE,
                created=T0 + n,
                updated=T0 + n,
                attempts=(Attempt(T0 + n, 200, "OK"),),
                status=200,
                message="OK",
                location=f"https://dl.example/{n:05d}/" + "x" * 200,
            )
            for n in range(count)
        )


def bad_pages(path: Path) -> None:
    """One page in the middle of a real history overwritten."""
    real_history(path)
    data = bytearray(path.read_bytes())
    page = 4096
    middle = len(data) // page // 2 * page
    data[middle : middle + page] = bytes(range(256)) * (page // 256)
    path.write_bytes(bytes(data))


def truncated(path: Path) -> None:
    """A real history cut in half (a disk full during a copy, say)."""
    real_history(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def not_a_database(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"linkdeck history? no, a text file\n" * 300)


def not_a_database_with_companions(path: Path) -> None:
    """A WAL and a shared-memory file beside it, to be kept with it."""
    not_a_database(path)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).write_bytes(suffix.encode() * 1000)


DAMAGES: dict[str, Callable[[Path], None]] = {
    "bad pages": bad_pages,
    "truncated": truncated,
    "not a database": not_a_database,
    "not a database, with its WAL": not_a_database_with_companions,
}


def files_in(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def quick_check(path: Path) -> str:
    try:
        with sqlite3.connect(path) as db:
            return " ".join(row[0] for row in db.execute("PRAGMA quick_check"))
    except sqlite3.DatabaseError as error:
        return str(error)


def test_each_damage_is_real(tmp_path: Path) -> None:
    """The files the tests below start on are damaged as SQLite sees it."""
    for name, damage in DAMAGES.items():
        path = tmp_path / name / "history.sqlite3"
        damage(path)
        assert quick_check(path) != "ok", name


def damaged_rows(path: Path, now: float) -> list[tuple[object, ...]]:
    """A sound database with rows no linkdeck wrote: an unknown state, attempts
    that are not JSON or of the wrong shape, a time that is text, and hoster
    outcomes that are not times. Returns the damaged rows as stored."""
    real_history(path, 20)
    bad = "https://uploaded.net/file/bad0000"
    rows = [
        # Quoted as Python, not JSON: a done row of LINK that must not be reused.
        (LINK, "uploaded.net", "done", now, now, "[[1.0, 200, 'OK']]", "https://dl/reuse-me"),
        (f"{bad}2/b.zip", "uploaded.net", "exploded", now, now, "[]", None),
        (f"{bad}3/c.zip", "uploaded.net", "pending", now, now, '{"at": 1}', None),
        (f"{bad}4/d.zip", "uploaded.net", "waiting", "yesterday", now, "[]", None),
        (f"{bad}5/e.zip", None, "held", now, now, "[[1, 2]]", None),
    ]
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO items (link, hoster, state, created, updated, attempts, location)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.execute("INSERT INTO hosters VALUES ('uploaded.net', 'never', x'00', 'soon')")
        db.execute("INSERT INTO fairuse VALUES ('account', ?, 'plenty')", (now,))
    return stored_rows(path)


def stored_rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("SELECT * FROM items WHERE link NOT LIKE '%/old%' ORDER BY id").fetchall()


def state_of(path: Path, link: str) -> str | None:
    """The newest state of `link` in the history at `path`, read by this process."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = db.execute(
                "SELECT state FROM items WHERE link = ? ORDER BY id DESC LIMIT 1", (link,)
            ).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def dashboard(emu: Emulator) -> list[str]:
    return ["--api-url", emu.url, "--login", LOGIN]


def queue_in_dashboard(run: PtyRun, link: str) -> None:
    run.send("u")
    run.send(f"\x1b[200~{link}\x1b[201~")
    run.send("\r")
    run.wait_for(b"Queued 1 link")
    run.send("\x1b")  # out of the input, so that q quits


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_the_dashboard_sets_a_damaged_history_aside_and_keeps_working(
    damage: str, env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    path = history_path(tmp_path)
    DAMAGES[damage](path)
    damaged = files_in(path.parent)
    with PtyRun(dashboard(emu), env) as run:
        run.wait_for(b"aside", 20)
        run.wait_for(b"refreshed", 20)
        queue_in_dashboard(run, LINK)
        run.wait_for(lambda _: state_of(path, LINK) == "done", 20)
        assert run.quit() == 0
    out = bytes(run.output)
    assert b"Traceback" not in out
    (aside,) = [p for p in path.parent.iterdir() if ASIDE.fullmatch(p.name)]
    # Moved with its companions, never rewritten nor deleted.
    moved = {name.replace(path.name, aside.name, 1): data for name, data in damaged.items()}
    assert {n: d for n, d in files_in(path.parent).items() if n.startswith(aside.name)} == moved
    assert quick_check(path) == "ok"


def test_the_dashboard_skips_damaged_rows_and_keeps_them(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    path = history_path(tmp_path)
    before = damaged_rows(path, time.time())
    with PtyRun(dashboard(emu), env) as run:
        run.wait_for(b"could not be read", 20)
        run.wait_for(b"unreadable")  # the rows in the log
        run.wait_for(b"refreshed", 20)
        queue_in_dashboard(run, "https://uploaded.net/file/abc12399/y.zip")
        run.wait_for(lambda _: state_of(path, "https://uploaded.net/file/abc12399/y.zip") == "done")
        assert run.quit() == 0
    assert b"Traceback" not in bytes(run.output)
    assert stored_rows(path)[: len(before)] == before
    assert not [p for p in path.parent.iterdir() if ASIDE.fullmatch(p.name)]


def unlock(env: dict[str, str], emu: Emulator, *links: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", "unlock", "--api-url", emu.url, "--login", LOGIN, *links],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_unlock_refuses_a_damaged_history_and_leaves_it_in_place(
    damage: str, env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    path = history_path(tmp_path)
    DAMAGES[damage](path)
    damaged = files_in(path.parent)
    line = one_sentence(unlock(env, emu, LINK), 2)
    assert f"{path} is damaged" in line, line
    assert files_in(path.parent) == damaged
    assert emu.stats.calls["directdownloadlink"] == 0


def test_unlock_skips_damaged_rows(env: dict[str, str], emu: Emulator, tmp_path: Path) -> None:
    """The damaged done row of LINK is not reused; the outcomes that are not
    times are ignored; the command says how many rows it could not read."""
    path = history_path(tmp_path)
    before = damaged_rows(path, time.time())
    result = unlock(env, emu, LINK)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith("done ")
    assert "reuse-me" not in result.stdout and "(reused)" not in result.stdout
    assert result.stderr == "linkdeck: warning: 1 row of the history could not be read\n"
    assert stored_rows(path)[: len(before)] == before


# --- symbolic links --------------------------------------------------------


def precious(path: Path) -> bytes:
    """A file of the user's that a link points at: it must stay as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"the user's own file, not linkdeck's\n" * 10
    path.write_bytes(data)
    return data


def link_to(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


@pytest.mark.parametrize("name", ["history.sqlite3", "history.sqlite3-wal", "history.sqlite3-shm"])
def test_unlock_refuses_a_symlinked_history(
    name: str, env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    path = history_path(tmp_path)
    if name != path.name:
        real_history(path, 5)
    target = tmp_path / "elsewhere" / "target"
    data = precious(target)
    link_to(path.with_name(name), target)
    line = one_sentence(unlock(env, emu, LINK), 2)
    assert f"{path.with_name(name)} is a symbolic link: linkdeck does not follow links" in line
    assert "XDG_DATA_HOME" in line
    assert target.read_bytes() == data
    assert sorted(p.name for p in target.parent.iterdir()) == ["target"]
    assert path.with_name(name).is_symlink()


def test_the_dashboard_refuses_a_symlinked_history(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    path = history_path(tmp_path)
    target = tmp_path / "elsewhere" / "history.sqlite3"
    real_history(target, 5)
    data = target.read_bytes()
    link_to(path, target)
    with PtyRun(dashboard(emu), env) as run:
        run.wait_for(b"symbolic", 20)
        assert run.quit() == 0
    assert target.read_bytes() == data
    assert sorted(p.name for p in target.parent.iterdir()) == ["history.sqlite3"]
    assert path.is_symlink()


def test_the_dashboard_ignores_symlinked_caches(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    """A cache that is a link is neither read nor written through, whatever
    name the write goes through first; the link is left for the user."""
    cached = HosterList((Hoster("linkedcache.example", ("example",), (r"linkedcache",)),))
    target = tmp_path / "elsewhere" / "hosters.json"
    target.parent.mkdir(parents=True)
    save_hosters(target, cached, T0)
    data = target.read_bytes()
    other = tmp_path / "elsewhere" / "other"
    other_data = precious(other)
    cache = cache_dir(tmp_path)
    hosters_cache = cache_file(cache, "hosters", emu.url, LOGIN)
    account_cache = cache_file(cache, "account", emu.url, LOGIN)
    link_to(hosters_cache, target)
    link_to(account_cache, other)
    for temporary in ("hosters.tmp", "account.tmp"):
        link_to(cache / temporary, other)
    with PtyRun(dashboard(emu), env) as run:
        run.wait_for(b"symbolic", 20)
        run.wait_for(b"refreshed", 20)
        run.wait_for(b"1fichier.com")  # the fresh list from the service, after its cache write
        assert run.quit() == 0
    assert b"linkedcache" not in bytes(run.output)
    assert target.read_bytes() == data
    assert other.read_bytes() == other_data
    assert hosters_cache.is_symlink() and account_cache.is_symlink()


def test_an_export_never_writes_through_a_symlink(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    """Links at the export names of every second of the next minute."""
    target = tmp_path / "elsewhere" / "target"
    data = precious(target)
    exports = history_path(tmp_path).parent / "exports"
    now = int(time.time())
    for second in range(now - 2, now + 60):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(second))
        for name in (f"linkdeck-{stamp}.jsonl", f"linkdeck-{stamp}-links.txt"):
            link_to(exports / name, target)
    with PtyRun(dashboard(emu), env) as run:
        run.wait_for(b"refreshed", 20)
        run.send("\x1b")
        run.send("e")
        run.wait_for(b"Escape cancels")
        # The folder asked for: the one the links are in (ctrl+u clears the offer).
        run.send("\x15")
        run.send(str(exports))
        run.send("\r")
        run.wait_for(b"symbolic")
        assert run.quit() == 0
    assert target.read_bytes() == data
    assert all(path.is_symlink() for path in exports.iterdir())


# --- a config file of another user -----------------------------------------


@pytest.mark.skipif(os.name == "nt" or os.geteuid() != 0, reason="chown needs root")
def test_a_config_file_of_another_user_is_warned_about(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[api]\nurl = "{emu.url}"\nlogin = "{LOGIN}"\n')
    config.chmod(0o600)
    os.chown(config, 65534, 65534)
    result = subprocess.run(
        [sys.executable, "-m", "tui", "status", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"linkdeck: warning: config file {config} is owned by another user (uid 65534), "
        "who could change where your PIN is sent: use a file of your own\n"
    )
    os.chown(config, 0, 0)  # root's own file: no warning
    result = subprocess.run(
        [sys.executable, "-m", "tui", "status", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")


# --- in process: what the notices say -------------------------------------


async def test_the_notice_names_the_damaged_file_and_where_it_went(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator)
    not_a_database(profile.history_path)
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        notes = [n.message for n in app._notifications]
    (aside,) = [p for p in profile.data_dir.iterdir() if ASIDE.fullmatch(p.name)]
    (note,) = [n for n in notes if "aside" in n]
    assert str(profile.history_path) in note and str(aside) in note
    assert "file is not a database" in note


async def test_an_export_never_overwrites_and_counts_unreadable_rows(
    emulator: Emulator, make_profile: Callable[..., Profile], fake_clock: FakeClock
) -> None:
    profile = make_profile(emulator)
    damaged_rows(profile.history_path, fake_clock.now())
    exports = profile.data_dir / "exports"
    exports.mkdir()
    taken = exports / "linkdeck-20270115-080000.jsonl"
    taken.write_text("an earlier export\n")
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#export-folder", Input).value = str(exports)
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(list(exports.iterdir())) == 3)
        (note,) = [n.message for n in app._notifications if n.message.startswith("Exported")]
    assert taken.read_text() == "an earlier export\n"
    assert sorted(p.name for p in exports.iterdir()) == [
        "linkdeck-20270115-080000-2-links.txt",
        "linkdeck-20270115-080000-2.jsonl",
        "linkdeck-20270115-080000.jsonl",
    ]
    assert "Exported 20 item(s)" in note
    assert note.endswith("; 5 rows of the history could not be read")


async def test_a_first_run_reports_damaged_rows_too(
    make_profile: Callable[..., Profile], fake_clock: FakeClock
) -> None:
    """No settings yet: the form opens, and the log behind it still says which rows it skipped."""
    profile = make_profile(None)
    damaged_rows(profile.history_path, fake_clock.now())
    app = LinkdeckApp(profile, clock=fake_clock)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:

        def reported() -> bool:
            return any("could not be read" in n.message for n in app._notifications)

        await wait_for(pilot, reported)
