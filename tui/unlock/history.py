"""The persistent log of every unlock: SQLite, mode 0600, shared by the dashboard and the CLI.

Every state change is written at once (WAL and synchronous=NORMAL make a write
a cheap append), so a crash or `kill -9` loses nothing that was queued.

The file may not be what it seems: a symbolic link at it or at its companions
is refused (SQLite would follow it); a file SQLite cannot read is
`HistoryDamaged`, which `set_aside` moves out of the way (never deleted); a
row that linkdeck did not write is skipped and its id kept in `unreadable_ids`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from tui.safe_files import RefusedFile, open_file
from tui.unlock import cells
from tui.unlock.items import UNFINISHED, Item, ItemState

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
# What the queries read: a file without them is not a linkdeck history.
_TABLES = {
    "items": _COLUMNS,
    "fairuse": "at, value",
    "hosters": "hoster, last_ok, unavailable_since, unavailable_until",
}
_COMPANIONS = ("-wal", "-shm", "-journal")
_MAGIC = b"SQLite format 3\x00"


class HistoryError(Exception):
    """The history database cannot be used (newer schema, a symbolic link, damaged)."""


class HistoryDamaged(HistoryError):
    """SQLite cannot read the file (corrupt pages, not a database) or it holds
    another program's tables. `set_aside` moves it out of the way."""

    def __init__(self, path: Path, reason: str, identity: tuple[int, int]) -> None:
        reason = " ".join(reason.replace("*** in database main ***", "").split())[:300]
        super().__init__(f"{path} is damaged ({reason})")
        self.path = path
        self.identity = identity
        """st_dev and st_ino of the damaged file: `set_aside` moves no other."""


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
        identity, header = _create_private(self.path)
        if header not in (b"", _MAGIC):
            # Before SQLite opens it: on closing a file it cannot read, it deletes the
            # -wal and -shm beside it, which set_aside is to keep.
            raise HistoryDamaged(self.path, "file is not a database", identity)
        self._lock = threading.Lock()
        self.unreadable_ids: set[int] = set()
        """Rows read so far that linkdeck did not write: skipped, left as they are."""
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.text_factory = cells.decode_text
        try:
            # Before any write; found now rather than by a query mid-session.
            # About 0.1 s for 100,000 items.
            (check,) = self._db.execute("PRAGMA quick_check(1)").fetchone()
            if check != "ok":
                raise HistoryDamaged(self.path, check, identity)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self._check_tables(identity)
        except HistoryError:
            self._db.close()
            raise
        except sqlite3.DatabaseError as exc:
            self._db.close()
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary result code
            if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                raise HistoryDamaged(self.path, str(exc), identity) from None
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

    def _check_tables(self, identity: tuple[int, int]) -> None:
        for table, columns in _TABLES.items():
            try:
                self._db.execute(f"SELECT {columns} FROM {table} LIMIT 0")
            except sqlite3.OperationalError as exc:
                reason = f"not a linkdeck history: {exc}"
                raise HistoryDamaged(self.path, reason, identity) from None

    def _items(self, rows: Iterable[tuple[Any, ...]]) -> list[Item]:
        """The items of `rows`, without those that cannot be read (noted)."""
        items = []
        for row in rows:
            item = _item(row)
            if item is None:
                self.unreadable_ids.add(row[0])
            else:
                items.append(item)
        return items

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
        return next(iter(self._items(rows)), None)

    def recent(self, limit: int = 100) -> list[Item]:
        """The last `limit` items, newest first."""
        rows = self._query(f"SELECT id, {_COLUMNS} FROM items ORDER BY id DESC LIMIT ?", (limit,))
        return self._items(rows)

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
        return self._items(rows)

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
        items = self._items(rows)
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
        return next(iter(self._items(rows)), None)

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
            yield from self._items(rows)
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
        return [sample for sample in map(_fairuse, rows) if sample is not None]

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
        outcomes = (outcome for outcome in map(_outcome, rows) if outcome is not None)
        return {outcome.hoster: outcome for outcome in outcomes}


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


def unreadable_sentence(count: int) -> str:
    return f"{count} row{'s' if count != 1 else ''} of the history could not be read"


def set_aside(damaged: HistoryDamaged) -> Path | None:
    """Move a damaged history and its companions to `<name>.damaged-<time>`
    (kept: `sqlite3 FILE .recover` may get rows back), so that a new one can be
    created. None when the file there is no longer the damaged one (another
    linkdeck moved it first). Raises OSError."""
    path = damaged.path
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return None
    if (found.st_dev, found.st_ino) != damaged.identity:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    number = 1
    while any(os.path.lexists(name) for name in (target, *_companions(target))):
        number += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{number}")
    # The companions first: a WAL left beside a new, empty file would be read into it.
    for companion, moved in zip(_companions(path), _companions(target), strict=True):
        if os.path.lexists(companion):
            os.rename(companion, moved)
    os.rename(path, target)
    return target


def open_or_start_anew(path: Path) -> tuple[History, str | None]:
    """The history at `path`, or a new one there when it is damaged (set aside
    first), with a sentence that says so. Raises HistoryError."""
    try:
        return History(path), None
    except HistoryDamaged as error:
        damaged = error
    try:
        moved = set_aside(damaged)
    except OSError as error:
        raise HistoryError(f"{damaged}, and it cannot be moved aside: {error.strerror}") from None
    where = f"moved aside to {moved}" if moved else "already moved aside by another linkdeck"
    return History(path), f"{damaged}: it was {where}, and a new history was started"


def _companions(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in _COMPANIONS]


def _create_private(path: Path) -> tuple[tuple[int, int], bytes]:
    """Create the file 0600 before SQLite does (its WAL and SHM files copy that
    mode), refusing a symbolic link at it or at a companion (SQLite follows
    them). Returns the file's st_dev and st_ino, and its first 16 bytes."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = open_file(path, os.O_CREAT | os.O_RDWR, "history")
        try:
            os.fchmod(fd, 0o600)
            found = os.fstat(fd)
            header = os.pread(fd, len(_MAGIC), 0)
        finally:
            os.close(fd)
        for companion in _companions(path):
            try:
                fd = open_file(companion, os.O_RDWR, "history")
            except FileNotFoundError:
                continue
            try:
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
    except RefusedFile as error:
        raise HistoryError(str(error)) from None
    except OSError as error:
        raise HistoryError(f"{error.filename or path}: {error.strerror or error}") from None
    return (found.st_dev, found.st_ino), header


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


def _item(row: tuple[Any, ...]) -> Item | None:
    """The item of a row, or None if a value is not one linkdeck writes."""
    (id_, link, hoster, state, created, updated, next_at, attempts, status, message,
     location, filename, filesize, reused, forced) = row  # fmt: skip
    try:
        return Item(
            id=id_,
            link=cells.text(link),
            hoster=cells.optional_text(hoster),
            state=cells.state(state),
            created=cells.time(created),
            updated=cells.time(updated),
            next_attempt_at=cells.optional_time(next_at),
            attempts=cells.attempts(attempts),
            status=cells.optional_integer(status),
            message=cells.text(message),
            location=cells.optional_text(location),
            filename=cells.optional_text(filename),
            filesize=cells.optional_integer(filesize),
            reused=bool(cells.integer(reused)),
            forced=bool(cells.integer(forced)),
        )
    except cells.Unreadable:
        return None


def _outcome(row: tuple[Any, ...]) -> HosterOutcome | None:
    hoster, last_ok, since, until = row
    try:
        return HosterOutcome(
            cells.text(hoster),
            cells.optional_time(last_ok),
            cells.optional_time(since),
            cells.optional_time(until),
        )
    except cells.Unreadable:
        return None


def _fairuse(row: tuple[Any, ...]) -> tuple[float, float] | None:
    try:
        return cells.time(row[0]), cells.fraction(row[1])
    except cells.Unreadable:
        return None
