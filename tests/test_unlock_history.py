"""The SQLite history: file mode, schema, queries, exports, pruning, 100,000 items,
damaged files and rows, symbolic links."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import stat
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui import formatting
from tui.commands.unlock_links import human_line, json_record
from tui.unlock.history import (
    SCHEMA_VERSION,
    History,
    HistoryDamaged,
    HistoryError,
    item_record,
    set_aside,
)
from tui.unlock.items import Attempt, Item, ItemState
from tui.widgets.unlock_log import code_text

T0 = 1_800_000_000.0


def item(link: str, state: ItemState = ItemState.PENDING, at: float = T0, **fields: object) -> Item:
    return Item(
        id=0, link=link, hoster="uploaded.net", state=state, created=at, updated=at, **fields
    )


@pytest.fixture
def history(tmp_path: Path) -> History:
    with History(tmp_path / "data" / "history.sqlite3") as opened:
        yield opened


def test_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "data" / "history.sqlite3"
    with History(path) as history:
        history.insert([item("https://uploaded.net/file/abc12345/a")])
        for file in path.parent.iterdir():
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
        assert history._query("PRAGMA journal_mode") == [("wal",)]
        assert history._query("PRAGMA user_version") == [(SCHEMA_VERSION,)]


def test_existing_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)
    History(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    History(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(HistoryError, match="newer") as raised:
        History(path)
    assert not isinstance(raised.value, HistoryDamaged)  # refused, never set aside


def test_not_a_database_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(HistoryDamaged, match="is damaged \\(file is not a database\\)"):
        History(path)
    assert path.read_bytes() == b"this is not sqlite" * 100


def filled(path: Path, count: int = 300) -> None:
    with History(path) as history:
        history.insert(
            item(f"https://uploaded.net/file/abc{n:05d}/" + "x" * 300, ItemState.DONE)
            for n in range(count)
        )


def test_a_bad_page_is_found_when_the_file_is_opened(tmp_path: Path) -> None:
    """Not first when a query reaches it, in the middle of a session."""
    path = tmp_path / "history.sqlite3"
    filled(path)
    data = bytearray(path.read_bytes())
    page = len(data) // 2 // 4096 * 4096
    data[page : page + 100] = b"\xa5" * 100
    path.write_bytes(bytes(data))
    with pytest.raises(HistoryDamaged) as raised:
        History(path)
    assert "\n" not in str(raised.value)
    assert path.read_bytes() == bytes(data)


def test_a_database_of_another_program_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, url TEXT)")
        db.execute("PRAGMA user_version = 1")
    with pytest.raises(HistoryDamaged, match="not a linkdeck history"):
        History(path)


def damage_found(path: Path) -> HistoryDamaged:
    with pytest.raises(HistoryDamaged) as raised:
        History(path)
    return raised.value


def test_set_aside_moves_the_database_and_its_companions(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"damaged" * 100)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).write_bytes(suffix.encode() * 10)
    moved = set_aside(damage_found(path))
    assert moved is not None and moved.parent == tmp_path
    assert moved.name.startswith("history.sqlite3.damaged-")
    assert moved.read_bytes() == b"damaged" * 100
    for suffix in ("-wal", "-shm"):
        assert moved.with_name(moved.name + suffix).read_bytes() == suffix.encode() * 10
    with History(path) as fresh:
        assert fresh.recent() == []
    # A second damaged file in the same second gets a name of its own.
    path.write_bytes(b"damaged again" * 100)
    second = set_aside(damage_found(path))
    assert second is not None and second != moved
    assert moved.read_bytes() == b"damaged" * 100
    assert second.read_bytes() == b"damaged again" * 100


def test_set_aside_leaves_a_file_that_replaced_the_damaged_one(tmp_path: Path) -> None:
    """Two dashboards find the same damaged file: the second must not move the
    fresh history the first has just created."""
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"damaged" * 100)
    first, second = damage_found(path), damage_found(path)
    assert set_aside(first) is not None
    History(path).close()
    fresh = path.read_bytes()
    assert set_aside(second) is None
    assert path.read_bytes() == fresh


@pytest.mark.parametrize("name", ["history.sqlite3", "history.sqlite3-wal", "history.sqlite3-shm"])
def test_a_symbolic_link_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / "data" / "history.sqlite3"
    path.parent.mkdir()
    if name != path.name:
        History(path).close()
    target = tmp_path / "target"
    target.write_bytes(b"precious")
    (tmp_path / "data" / name).symlink_to(target)
    with pytest.raises(HistoryError, match="is a symbolic link: linkdeck does not follow links"):
        History(path)
    assert target.read_bytes() == b"precious"


def test_a_directory_in_place_of_the_file_is_a_history_error(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.mkdir()
    with pytest.raises(HistoryError, match=r"history\.sqlite3"):
        History(path)


def test_round_trip_and_update(history: History) -> None:
    (stored,) = history.insert([item("https://uploaded.net/file/abc12345/a")])
    assert stored.id > 0
    done = replace(
        stored,
        state=ItemState.DONE,
        attempts=(Attempt(T0, 503, "busy"), Attempt(T0 + 180, 200, "OK")),
        status=200,
        location="https://dl.example/x",
        filename="a.zip",
        filesize=123,
        forced=True,
    )
    stored_done = history.update(done)
    assert stored_done == replace(done, version=2, owner=None)  # ended: nobody's
    assert history.get(stored.id) == stored_done


def test_take_back_requeues_unlocking_as_pending(history: History) -> None:
    history.insert(item(f"https://uploaded.net/file/abc12345/{s}", s) for s in ItemState)
    history.release()  # as a clean stop leaves them: nobody's
    with History(history.path) as later:
        unfinished = later.take_back()
    names = [i.link.rsplit("/", 1)[1] for i in unfinished]
    assert names == ["pending", "unlocking", "waiting", "held"]
    assert [i.state for i in unfinished] == [
        ItemState.PENDING, ItemState.PENDING, ItemState.WAITING, ItemState.HELD
    ]  # fmt: skip
    assert history.counts_by_state()[ItemState.DONE] == 1


def test_reusable_only_within_the_window(history: History) -> None:
    link = "https://uploaded.net/file/abc12345/a"
    history.insert([item(link, ItemState.DONE, T0, location="https://dl/1")])
    history.insert([item(link, ItemState.FAILED, T0 + 10)])
    assert history.reusable(link, since=T0 - 1800).location == "https://dl/1"
    assert history.reusable(link, since=T0 + 1) is None
    assert history.reusable(link + "x", since=0) is None


def test_search_escapes_wildcards(history: History) -> None:
    history.insert(
        [
            item("https://uploaded.net/file/abc12345/100%_real.zip"),
            item("https://uploaded.net/file/abc12345/100x_real.zip"),
        ]
    )
    assert [i.link for i in history.search("100%_")] == [
        "https://uploaded.net/file/abc12345/100%_real.zip"
    ]
    assert len(history.search("UPLOADED")) == 2  # case-insensitive, newest first
    assert history.search("UPLOADED")[0].link.endswith("100x_real.zip")


def test_exports(history: History) -> None:
    history.insert(
        [
            item("https://uploaded.net/file/abc12345/a", ItemState.DONE, location="https://dl/a"),
            item("https://uploaded.net/file/abc12345/b", ItemState.FAILED, status=404),
            item("https://uploaded.net/file/abc12345/c", ItemState.DONE, location="https://dl/c"),
        ]
    )
    lines, links = io.StringIO(), io.StringIO()
    assert history.export_jsonl(lines) == 3
    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert [r["state"] for r in records] == ["done", "failed", "done"]
    assert records[1]["status"] == 404
    assert history.export_links(links) == 2
    assert links.getvalue() == "https://dl/a\nhttps://dl/c\n"


def test_prune_keeps_unfinished_items(history: History) -> None:
    history.insert(
        [
            item("https://uploaded.net/file/abc12345/old-done", ItemState.DONE, T0),
            item("https://uploaded.net/file/abc12345/old-waiting", ItemState.WAITING, T0),
            item("https://uploaded.net/file/abc12345/new-done", ItemState.DONE, T0 + 100),
        ]
    )
    history.record_fairuse("account", T0, 0.5, kept_since=0)
    history.record_fairuse("account", T0 + 100, 0.4, kept_since=0)
    assert history.prune(older_than=T0 + 50) == 1
    assert {i.link.rsplit("/", 1)[1] for i in history.recent()} == {"old-waiting", "new-done"}
    assert history.fairuse_series("account", since=0) == [(T0 + 100, 0.4)]


def test_hoster_outcomes(history: History) -> None:
    history.record_hoster_unavailable("share-online.biz", T0, T0 + 1800)
    history.record_hoster_ok("uploaded.net", T0)
    outcomes = history.hoster_outcomes()
    assert outcomes["share-online.biz"].unavailable_until == T0 + 1800
    assert outcomes["uploaded.net"].last_ok == T0
    history.record_hoster_ok("share-online.biz", T0 + 2000)
    assert history.hoster_outcomes()["share-online.biz"].unavailable_until is None


def test_hundred_thousand_items(history: History) -> None:
    started = time.perf_counter()
    history.insert(
        item(
            f"https://uploaded.net/file/abc12345/{n}.zip",
            ItemState.DONE if n % 10 else ItemState.FAILED,
            T0 + n,
            location=f"https://dl.example/{n}",
            filename=f"{n}.zip",
        )
        for n in range(100_000)
    )
    inserted = time.perf_counter()
    recent = history.recent(100)
    found = history.search("99999.zip")
    counts = history.counts_by_state()
    reusable = history.reusable("https://uploaded.net/file/abc12345/5.zip", since=0)
    unfinished = history.take_back()
    queried = time.perf_counter()
    print(f"insert 100k: {inserted - started:.2f}s, queries: {queried - inserted:.3f}s")
    assert recent[0].link.endswith("/99999.zip")
    assert [i.link for i in found] == ["https://uploaded.net/file/abc12345/99999.zip"]
    assert counts == {ItemState.DONE: 90_000, ItemState.FAILED: 10_000}
    assert reusable is not None
    assert unfinished == []


# --- rows that linkdeck did not write -----------------------------------------

TIMES = st.floats(0, 4e9)
TEXTS = st.text(max_size=30)
ITEMS = st.builds(
    Item,
    id=st.just(0),
    link=TEXTS,
    hoster=st.none() | TEXTS,
    state=st.sampled_from(ItemState),
    created=TIMES,
    updated=TIMES,
    next_attempt_at=st.none() | TIMES,
    attempts=st.lists(
        st.builds(Attempt, TIMES, st.none() | st.integers(-(2**31), 2**31), TEXTS, st.booleans()),
        max_size=3,
    ).map(tuple),
    status=st.none() | st.integers(-(2**63), 2**63 - 1),
    message=TEXTS,
    location=st.none() | TEXTS,
    filename=st.none() | TEXTS,
    filesize=st.none() | st.integers(0, 2**63 - 1),
    reused=st.booleans(),
    forced=st.booleans(),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=st.lists(ITEMS, min_size=1, max_size=4))
def test_every_item_linkdeck_writes_reads_back_the_same(
    history: History, items: list[Item]
) -> None:
    """The checks of the rows read refuse nothing that linkdeck itself writes."""
    stored = history.insert(items)
    assert [history.get(i.id) for i in stored] == stored
    assert not history.unreadable_ids


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXTS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXTS, inner, max_size=3),
    max_leaves=10,
).map(json.dumps)
SHAPED_ATTEMPTS = st.lists(
    st.tuples(
        st.none() | st.floats() | TEXTS,
        st.none() | st.integers() | st.floats() | TEXTS,
        st.none() | TEXTS | st.integers(),
        st.none() | st.booleans() | st.integers(),
    ),
    max_size=3,
).map(lambda rows: json.dumps([list(row[: len(row) - n % 2]) for n, row in enumerate(rows)]))
CELLS = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    TEXTS,
    st.binary(max_size=20),
    st.sampled_from([str(state) for state in ItemState]),
    JSON,
    SHAPED_ATTEMPTS,
    st.just("[" * 10_000),
)


def loosened(path: Path) -> None:
    """Drop the NOT NULL constraints, as a damaged file may have: then any
    value can go in any column."""
    History(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA writable_schema = ON")
    db.execute("UPDATE sqlite_schema SET sql = replace(sql, 'NOT NULL', '') WHERE type = 'table'")
    db.commit()
    db.close()


@pytest.fixture
def loose_path(tmp_path: Path) -> Path:
    path = tmp_path / "history.sqlite3"
    loosened(path)
    return path


def cell_sql(value: object, as_text: bool) -> str:
    # Bytes cast to TEXT: text that is not UTF-8, which Python cannot write as a str.
    return "CAST(? AS TEXT)" if as_text and isinstance(value, bytes) else "?"


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_rows_of_any_values_never_raise(loose_path: Path, data: st.DataObject) -> None:
    """Rows as linkdeck writes them, then any value in any of their columns,
    and rows of any values in hosters and fairuse, written with sqlite3: every
    query answers, skips what it cannot read, and what it returns can be shown
    by the CLI and the dashboard."""
    with sqlite3.connect(loose_path) as db:
        for table in ("items", "hosters", "fairuse"):
            db.execute(f"DELETE FROM {table}")
    with History(loose_path) as history:
        stored = history.insert(data.draw(st.lists(ITEMS, min_size=1, max_size=4), label="items"))
        history.record_hoster_ok("uploaded.net", T0)
        history.record_fairuse("account", T0, 0.5, kept_since=0)
    with sqlite3.connect(loose_path) as db:
        columns = {
            table: [row[1] for row in db.execute(f"PRAGMA table_info({table})") if row[1] != "id"]
            for table in ("items", "hosters", "fairuse")
        }
        for item in stored:
            for name in data.draw(st.sets(st.sampled_from(columns["items"]), max_size=3)):
                value, as_text = data.draw(CELLS, label=name), data.draw(st.booleans())
                mark = cell_sql(value, as_text)
                # SQLite refuses to store some (the state counts' key): not damage.
                with contextlib.suppress(sqlite3.IntegrityError):
                    db.execute(f"UPDATE items SET {name} = {mark} WHERE id = ?", (value, item.id))
        for table in ("hosters", "fairuse"):
            names = columns[table]
            for _ in range(data.draw(st.integers(0, 3), label=f"{table} rows")):
                values = [data.draw(CELLS, label=name) for name in names]
                casts = [data.draw(st.booleans()) for _ in names]
                marks = ", ".join(cell_sql(v, c) for v, c in zip(values, casts, strict=True))
                db.execute(
                    f"INSERT OR IGNORE INTO {table} ({', '.join(names)}) VALUES ({marks})", values
                )
    with History(loose_path) as history:
        ids = history.ids()
        items = [
            *history.recent(),
            *history.take_back(),
            *history.search(""),
            *history.search("a"),
            *filter(None, (history.get(i) for i in ids)),
        ]
        for link in {i.link for i in items}:
            history.reusable(link, since=0)
        lines, links = io.StringIO(), io.StringIO()
        readable = history.export_jsonl(lines)
        history.export_links(links)
        assert readable + len(history.unreadable_ids) == len(ids)
        assert history.unreadable_ids <= set(ids)
        history.counts_by_state()
        for outcome in history.hoster_outcomes().values():
            for at in (outcome.last_ok, outcome.unavailable_since, outcome.unavailable_until):
                if at is not None:
                    formatting.local_clock(at)
                    formatting.relative(at, T0)
        for at, value in history.fairuse_series("account", since=0):
            formatting.local_clock(at)
            formatting.percent(value)
    for shown in items:
        json.dumps(item_record(shown))
        json.dumps(json_record(shown))
        human_line(shown)
        code_text(shown)
        formatting.local_datetime(shown.created)
        formatting.size(shown.filesize)
        if shown.next_attempt_at is not None:
            formatting.countdown(shown.next_attempt_at - T0)
        for attempt in shown.attempts:
            formatting.local_datetime(attempt.at)
