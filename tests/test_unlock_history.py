"""The SQLite history: file mode, schema, queries, exports, pruning, 100,000 items."""

from __future__ import annotations

import io
import json
import sqlite3
import stat
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tui.unlock.history import History, HistoryError
from tui.unlock.items import Attempt, Item, ItemState

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
        assert history._query("PRAGMA user_version") == [(2,)]


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
    with pytest.raises(HistoryError, match="newer"):
        History(path)


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(HistoryError):
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
    history.record_fairuse(T0, 0.5)
    history.record_fairuse(T0 + 100, 0.4)
    assert history.prune(older_than=T0 + 50) == 1
    assert {i.link.rsplit("/", 1)[1] for i in history.recent()} == {"old-waiting", "new-done"}
    assert history.fairuse_series(since=0) == [(T0 + 100, 0.4)]


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
