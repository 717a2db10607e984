"""The persistent log of every unlock: SQLite, mode 0600, shared by the dashboard and the CLI.

Every state change is written at once (WAL and synchronous=NORMAL make a write
a cheap append), so a crash or `kill -9` loses nothing that was queued.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from tui.unlock.items import UNFINISHED, Attempt, Item, ItemState

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    link TEXT NOT NULL,
    hoster TEXT,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    next_attempt_at REAL,
    attempts TEXT NOT NULL DEFAULT '[]',
    status INTEGER,
    message TEXT NOT NULL DEFAULT '',
    location TEXT,
    filename TEXT,
    filesize INTEGER,
    reused INTEGER NOT NULL DEFAULT 0,
    forced INTEGER NOT NULL DEFAULT 0
);
-- counts_by_state() and unfinished()
CREATE INDEX items_state ON items (state);
-- reusable(): the last success of a link
CREATE INDEX items_done_link ON items (link, updated) WHERE state = 'done';
-- prune()
CREATE INDEX items_updated ON items (updated);
CREATE TABLE fairuse (at REAL PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE hosters (
    hoster TEXT PRIMARY KEY,
    last_ok REAL,
    unavailable_since REAL,
    unavailable_until REAL
) WITHOUT ROWID;
"""
_COLUMNS = (
    "link, hoster, state, created, updated, next_attempt_at, attempts, status, message, "
    "location, filename, filesize, reused, forced"
)
_UNFINISHED = tuple(sorted(UNFINISHED))


class HistoryError(Exception):
    """The history database cannot be used (newer schema, not a database)."""


@dataclass(frozen=True, slots=True)
class HosterOutcome:
    hoster: str
    last_ok: float | None
    unavailable_since: float | None
    unavailable_until: float | None


def default_path() -> Path:
    from tui.settings import data_dir

    return data_dir() / "history.sqlite3"


class History:
    """The unlock log. Thread-safe: one connection behind a lock."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        _create_private(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise HistoryError(f"{self.path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _migrate(self) -> None:
        # IMMEDIATE: two processes opening a new file at once create the schema once.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise HistoryError(f"{self.path} comes from a newer linkdeck (schema {version})")
            if version == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    # Items

    def insert(self, items: Iterable[Item]) -> list[Item]:
        """Store new items in one transaction; returns them with their ids."""
        stored = []
        with self._transaction() as db:
            for item in items:
                cursor = db.execute(
                    f"INSERT INTO items ({_COLUMNS}) VALUES ({', '.join('?' * 14)})",
                    _row(item),
                )
                stored.append(replace(item, id=cursor.lastrowid or 0))
        return stored

    def update(self, item: Item) -> None:
        assignments = ", ".join(f"{name.strip()} = ?" for name in _COLUMNS.split(","))
        with self._lock:
            self._db.execute(f"UPDATE items SET {assignments} WHERE id = ?", (*_row(item), item.id))

    def delete(self, item_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM items WHERE id = ?", (item_id,))

    def get(self, item_id: int) -> Item | None:
        rows = self._query(f"SELECT id, {_COLUMNS} FROM items WHERE id = ?", (item_id,))
        return _item(rows[0]) if rows else None

    def recent(self, limit: int = 100) -> list[Item]:
        """The last `limit` items, newest first."""
        rows = self._query(f"SELECT id, {_COLUMNS} FROM items ORDER BY id DESC LIMIT ?", (limit,))
        return [_item(row) for row in rows]

    def ids(self) -> list[int]:
        """Every item's id, oldest first: what the dashboard's log holds (it reads
        the few rows on screen with `get`)."""
        with self._lock:
            return [id_ for (id_,) in self._db.execute("SELECT id FROM items ORDER BY id")]

    def search(self, text: str, limit: int = 100) -> list[Item]:
        """Items whose link, hoster, file name, message or direct link contain `text`."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where = " OR ".join(
            f"{column} LIKE ? ESCAPE '\\'"
            for column in ("link", "hoster", "filename", "message", "location")
        )
        rows = self._query(
            f"SELECT id, {_COLUMNS} FROM items WHERE {where} ORDER BY id DESC LIMIT ?",
            (*[pattern] * 5, limit),
        )
        return [_item(row) for row in rows]

    def counts_by_state(self) -> dict[ItemState, int]:
        rows = self._query("SELECT state, count(*) FROM items GROUP BY state")
        known = {str(state) for state in ItemState}
        return {ItemState(state): count for state, count in rows if state in known}

    def unfinished(self) -> list[Item]:
        """Items to queue again, oldest first; an item caught unlocking is pending again."""
        marks = ", ".join("?" * len(_UNFINISHED))
        rows = self._query(
            f"SELECT id, {_COLUMNS} FROM items WHERE state IN ({marks}) ORDER BY id", _UNFINISHED
        )
        items = [_item(row) for row in rows]
        return [
            replace(item, state=ItemState.PENDING) if item.state == ItemState.UNLOCKING else item
            for item in items
        ]

    def reusable(self, link: str, since: float) -> Item | None:
        """The last unlock of `link` after `since`, if any. Reuses do not count: the
        service's free window starts when the link was really generated."""
        rows = self._query(
            f"SELECT id, {_COLUMNS} FROM items WHERE link = ? AND state = 'done' AND updated >= ?"
            " AND NOT reused ORDER BY updated DESC LIMIT 1",
            (link, since),
        )
        return _item(rows[0]) if rows else None

    def export_jsonl(self, fp: IO[str]) -> int:
        """Every item as one JSON object per line, oldest first; returns the count."""
        count = 0
        for item in self._iterate():
            fp.write(json.dumps(item_record(item), ensure_ascii=False) + "\n")
            count += 1
        return count

    def export_links(self, fp: IO[str]) -> int:
        """The direct links of the items done, one a line, oldest first."""
        count = 0
        for item in self._iterate("state = 'done' AND location IS NOT NULL"):
            fp.write(f"{item.location}\n")
            count += 1
        return count

    def _iterate(self, where: str = "1", batch: int = 1000) -> Iterator[Item]:
        # Pages by id so a huge log never sits in memory at once.
        last = 0
        query = f"SELECT id, {_COLUMNS} FROM items WHERE id > ? AND ({where}) ORDER BY id LIMIT ?"
        while True:
            rows = self._query(query, (last, batch))
            yield from (_item(row) for row in rows)
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def prune(self, older_than: float) -> int:
        """Delete finished items last changed before `older_than`; returns how many."""
        marks = ", ".join("?" * len(_UNFINISHED))
        with self._transaction() as db:
            cursor = db.execute(
                f"DELETE FROM items WHERE updated < ? AND state NOT IN ({marks})",
                (older_than, *_UNFINISHED),
            )
            db.execute("DELETE FROM fairuse WHERE at < ?", (older_than,))
        return cursor.rowcount

    # Fair use over time, for the dashboard's sparkline

    def record_fairuse(self, at: float, value: float) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO fairuse VALUES (?, ?)", (at, value))

    def fairuse_series(self, since: float) -> list[tuple[float, float]]:
        rows = self._query("SELECT at, value FROM fairuse WHERE at >= ? ORDER BY at", (since,))
        return [(at, value) for at, value in rows]

    # What recent unlocks say about each hoster

    def record_hoster_ok(self, hoster: str, at: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO hosters (hoster, last_ok) VALUES (?, ?)"
                " ON CONFLICT (hoster) DO UPDATE SET last_ok = excluded.last_ok,"
                " unavailable_since = NULL, unavailable_until = NULL",
                (hoster, at),
            )

    def record_hoster_unavailable(self, hoster: str, since: float, until: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO hosters (hoster, unavailable_since, unavailable_until)"
                " VALUES (?, ?, ?) ON CONFLICT (hoster) DO UPDATE SET"
                " unavailable_since = excluded.unavailable_since,"
                " unavailable_until = excluded.unavailable_until",
                (hoster, since, until),
            )

    def hoster_outcomes(self) -> dict[str, HosterOutcome]:
        rows = self._query(
            "SELECT hoster, last_ok, unavailable_since, unavailable_until FROM hosters"
        )
        return {row[0]: HosterOutcome(*row) for row in rows}


def item_record(item: Item) -> dict[str, Any]:
    """An item as plain JSON-ready data (the JSON lines export and `linkdeck unlock --json`)."""
    return {
        "id": item.id,
        "link": item.link,
        "hoster": item.hoster,
        "state": str(item.state),
        "status": item.status,
        "message": item.message,
        "location": item.location,
        "filename": item.filename,
        "filesize": item.filesize,
        "created": item.created,
        "updated": item.updated,
        "next_attempt_at": item.next_attempt_at,
        "reused": item.reused,
        "forced": item.forced,
        "attempts": [
            {"at": a.at, "status": a.status, "message": a.message, "counted": a.counted}
            for a in item.attempts
        ],
    }


def _create_private(path: Path) -> None:
    """Create the file 0600 before SQLite does (its WAL and SHM files copy that mode)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if companion.exists():
            companion.chmod(0o600)


def _row(item: Item) -> tuple[Any, ...]:
    attempts = json.dumps([[a.at, a.status, a.message, a.counted] for a in item.attempts])
    return (
        item.link,
        item.hoster,
        str(item.state),
        item.created,
        item.updated,
        item.next_attempt_at,
        attempts,
        item.status,
        item.message,
        item.location,
        item.filename,
        item.filesize,
        int(item.reused),
        int(item.forced),
    )


def _item(row: tuple[Any, ...]) -> Item:
    (id_, link, hoster, state, created, updated, next_at, attempts, status, message,
     location, filename, filesize, reused, forced) = row  # fmt: skip
    return Item(
        id=id_,
        link=link,
        hoster=hoster,
        state=ItemState(state),
        created=created,
        updated=updated,
        next_attempt_at=next_at,
        attempts=tuple(Attempt(*entry) for entry in json.loads(attempts)),
        status=status,
        message=message,
        location=location,
        filename=filename,
        filesize=filesize,
        reused=bool(reused),
        forced=bool(forced),
    )
