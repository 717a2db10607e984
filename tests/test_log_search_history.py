"""The log's search in the history: the full-text index kept in step with every
write (any process's), made for an older file, and any text a query."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.unlock import history as history_module
from tui.unlock.history import History, HistoryDamaged
from tui.unlock.items import Item, ItemState
from tui.unlock.log_query import MAX_TERM_CHARS, MAX_TERMS, LogQuery, LogSort

T0 = 1_800_000_000.0


def item(link: str, state: ItemState = ItemState.DONE, **fields: object) -> Item:
    fields.setdefault("hoster", "uploaded.net")
    return Item(id=0, link=link, state=state, created=T0, updated=T0, **fields)  # type: ignore[arg-type]


@pytest.fixture
def history(tmp_path: Path) -> History:
    with History(tmp_path / "history.sqlite3") as opened:
        yield opened


def found(history: History, text: str, **order: object) -> list[int]:
    return history.find_ids(LogQuery.parse(text, **order))  # type: ignore[arg-type]


def index_is_whole(path: Path) -> None:
    with sqlite3.connect(path) as db:
        # Raises when the index and the items differ.
        db.execute("INSERT INTO items_search (items_search, rank) VALUES ('integrity-check', 1)")


def test_words_states_and_their_mix(history: History) -> None:
    a, b, c = history.insert(
        [
            item("https://uploaded.net/file/aaa/Holiday.Video.mkv", filename="Holiday.Video.mkv"),
            item(
                "https://rapidgator.net/file/bbb",
                ItemState.FAILED,
                hoster="rapidgator.net",
                message="404 file not found",
            ),
            item("https://1fichier.com/?ccc", ItemState.WAITING, hoster="1fichier.com"),
        ]
    )
    assert found(history, "") == [a.id, b.id, c.id]
    assert found(history, "holiday") == [a.id]  # the file name, case aside
    assert found(history, "NOT FOUND") == [b.id]  # the server's answer
    assert found(history, "fichier") == [c.id]
    assert found(history, "f") == [a.id, b.id, c.id]  # short words too: every link has one
    assert found(history, "state:failed") == [b.id]
    assert found(history, "state:fail,wait") == [b.id, c.id]
    assert found(history, "is:done net") == [a.id]
    # A name of no state filters nothing; the title says so.
    assert found(history, "state:nothing") == [a.id, b.id, c.id]
    assert found(history, "rapid 404") == [b.id]
    assert found(history, "rapid holiday") == []


def test_case_aside_as_the_index_and_like_fold_it(history: History) -> None:
    (stored,) = history.insert([item("https://x.example/Über/ß", message="ÉTÉ")])
    # Three characters or more: the index folds any letter's case.
    assert found(history, "über") == found(history, "été") == [stored.id]
    # Fewer: LIKE folds ASCII letters only, and the log's live filter does the same.
    assert found(history, "EX") == [stored.id]
    assert found(history, "X.") == [stored.id]
    assert found(history, "ü") == []
    for text, ids in (("über", [stored.id]), ("ü", []), ("X.", [stored.id])):
        assert LogQuery.parse(text).matches(stored) == bool(ids), text


def test_sorts(history: History) -> None:
    a, b, c = history.insert(
        [
            item("https://z.example/1", hoster="zeta", filename="b.bin"),
            item("https://a.example/2", ItemState.FAILED, hoster="Alpha", status=503),
            item("https://m.example/3", ItemState.PENDING, hoster="mid", filename="a.bin"),
        ]
    )
    assert found(history, "", sort=LogSort.HOSTER) == [b.id, c.id, a.id]
    assert found(history, "", sort=LogSort.HOSTER, descending=True) == [a.id, c.id, b.id]
    assert found(history, "", sort=LogSort.NAME) == [c.id, a.id, b.id]
    # The order of the states in the log: pending, unlocking, done, failed...
    assert found(history, "", sort=LogSort.STATE) == [c.id, a.id, b.id]
    assert found(history, "", sort=LogSort.TIME, descending=True) == [c.id, b.id, a.id]
    assert found(history, "example", sort=LogSort.TIME, descending=True) == [c.id, b.id, a.id]
    assert found(history, "exa", sort=LogSort.ANSWER) == [a.id, c.id, b.id]


def test_a_sorted_search_follows_every_change_of_the_history(
    history: History, tmp_path: Path
) -> None:
    # A sort keeps every id in its order until the history changes: a change made
    # here, or by another process, is in the next answer.
    a, b = history.insert(
        [item("https://z.example/s1", hoster="zeta"), item("https://a.example/2", hoster="alpha")]
    )
    assert found(history, "s", sort=LogSort.HOSTER) == [b.id, a.id]  # every item: "https"
    assert found(history, "z", sort=LogSort.HOSTER) == [a.id]
    (c,) = history.insert([item("https://m.example/z3", hoster="mid")])
    assert found(history, "z", sort=LogSort.HOSTER) == [c.id, a.id]
    assert found(history, "z", sort=LogSort.HOSTER, descending=True) == [a.id, c.id]
    with sqlite3.connect(tmp_path / "history.sqlite3") as other:
        other.execute("UPDATE items SET hoster = 'aaa' WHERE id = ?", (a.id,))
        other.execute("DELETE FROM items WHERE id = ?", (c.id,))
    assert found(history, "z", sort=LogSort.HOSTER) == [a.id]
    assert found(history, "s", sort=LogSort.HOSTER) == [a.id, b.id]
    assert found(history, "s1", sort=LogSort.HOSTER) == [a.id]


def test_the_index_follows_inserts_updates_and_deletes(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with History(path) as history:
        (first,) = history.insert([item("https://uploaded.net/file/one", ItemState.PENDING)])
        assert found(history, "file/one") == [first.id]
        history.update(replace(first, state=ItemState.DONE, filename="Renamed.Thing.zip"))
        assert found(history, "renamed") == [first.id]
        assert found(history, "state:pend") == []
        (second,) = history.insert([item("https://uploaded.net/file/two", ItemState.FAILED)])
        assert history.delete(first.id)
        assert found(history, "renamed") == []
        assert found(history, "uploaded") == [second.id]
        history.prune(T0 + 1)
        assert found(history, "uploaded") == []
    index_is_whole(path)


def make_version_3(path: Path) -> None:
    """A history as linkdeck wrote it before the search: schema 3, no index."""
    with sqlite3.connect(path) as db:
        for script in history_module._MIGRATIONS[:3]:
            db.executescript(script)
        db.execute("PRAGMA user_version = 3")
        db.execute(
            "INSERT INTO items (link, hoster, state, created, updated, message, filename)"
            " VALUES ('https://uploaded.net/file/old', 'uploaded.net', 'failed', ?, ?,"
            " '503 busy', 'Old.Film.avi')",
            (T0, T0),
        )


def test_an_older_history_gets_its_index(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    make_version_3(path)
    with History(path) as history:
        assert found(history, "old.film") == [1]
        assert found(history, "busy state:failed") == [1]
        history.insert([item("https://uploaded.net/file/new")])
        assert found(history, "file/") == [1, 2]
    index_is_whole(path)


WRITER = """
import sys
from tui.unlock.history import History, HistoryDamaged
from tui.unlock.items import Item, ItemState
with History(__import__("pathlib").Path(sys.argv[1])) as history:
    for n in range(50):
        (stored,) = history.insert([Item(id=0, link=f"https://x.example/{sys.argv[2]}/{n}",
            hoster="x", state=ItemState.PENDING, created=1.0, updated=1.0)])
        if n % 2:
            history.delete(stored.id)
"""


def test_two_processes_writing_at_once_keep_the_index_whole(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    make_version_3(path)  # and both migrate it as they open it
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag]) for tag in ("aa", "bb")
    ]
    assert [writer.wait(60) for writer in writers] == [0, 0]
    index_is_whole(path)
    with History(path) as history:
        assert len(found(history, "/aa/")) == len(found(history, "/bb/")) == 25


ODD_TEXT = st.text(
    st.characters(codec="utf-8") | st.sampled_from(['"', "*", "-", "^", ":", "(", ")", "%", "_"]),
    max_size=20,
) | st.sampled_from(['"', 'a"b', "NEAR(a b)", "a OR b", "-foo", "foo*", "NOT", "AND", "^x", "{a}"])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=ODD_TEXT, sort=st.sampled_from(LogSort), descending=st.booleans())
def test_any_text_is_a_query_never_a_syntax_error(
    history: History, text: str, sort: LogSort, descending: bool
) -> None:
    """What the user types is looked for as it is: FTS syntax too."""
    if not history.find_ids(LogQuery()):
        history.insert(
            [
                item('https://x.example/a"b/NEAR(a b)/-foo/foo*/ü', message="a OR b {a} ^x 100%"),
                item("https://y.example/plain", ItemState.FAILED),
            ]
        )
    query = LogQuery.parse(text, sort, descending)
    ids = history.find_ids(query)
    expected = [i.id for i in map(history.get, history.ids()) if i is not None and query.matches(i)]
    assert sorted(ids) == sorted(expected)


def test_a_history_without_its_index_is_not_one_of_ours(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    History(path).close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE items_search")
    with pytest.raises(HistoryDamaged, match="not a linkdeck history"):
        History(path)


def test_a_search_of_a_thousand_words_is_answered(history: History) -> None:
    # Each short word was one more LIKE group: 997 of them passed SQLite's
    # expression depth and the dashboard died. Repeated words count once, and
    # a search keeps its first MAX_TERMS words (the title says so).
    (one,) = history.insert([item("https://a.example/abc")])
    assert found(history, "a " * 1000) == [one.id]
    assert found(history, " ".join(f"w{n}" for n in range(1000))) == []
    query = LogQuery.parse(" ".join(f"w{n}" for n in range(1000)))
    assert len(query.terms) == MAX_TERMS and query.dropped == 1000 - MAX_TERMS
    assert LogQuery.parse("ab AB ab").terms == ("ab",)
    assert LogQuery.parse("x" * 5000).terms == ("x" * MAX_TERM_CHARS,)


def test_state_filters_add_up_and_an_unknown_name_is_said(history: History) -> None:
    done, failed, _ = history.insert(
        [
            item("https://a.example/1"),
            item("https://a.example/2", ItemState.FAILED),
            item("https://a.example/3", ItemState.WAITING),
        ]
    )
    assert found(history, "state:done state:failed") == [done.id, failed.id]
    query = LogQuery.parse("state:bogus,fail")
    assert query.states == frozenset({ItemState.FAILED}) and query.unknown_states == ("bogus",)
    assert "no state bogus" in query.describe()
