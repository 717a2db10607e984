"""The persistent log of every unlock: SQLite, mode 0600, shared by the dashboard and the CLI.

Every state change is written at once (WAL and synchronous=NORMAL make a write
a cheap append), so a crash or `kill -9` loses nothing that was queued.

Several processes may share one file, and each link is still unlocked once: an
unfinished item is claimed by one process (its `owner`, with a lease the owner
renews while it runs) from the moment it is stored; another process takes it
back only once that owner has ended or let its lease run out. Every write
applies only over the version of the row it read, so no process overwrites
another's newer state. Each change stamps its rows from a change counter, so
the others read just what changed (`changes_since`) when SQLite's
`data_version` says the file changed.

The log's search (`find_keys`) reads a full-text index of each item's link,
hoster, file name and answer (FTS5, trigrams: any part of a word is found),
which triggers keep in step with every write, whichever process makes it.

The file may not be what it seems: a symbolic link at it or at its companions
is refused (SQLite would follow it); a file SQLite cannot read is
`HistoryDamaged`, which `set_aside` moves out of the way (never deleted); a
row that linkdeck did not write is skipped and its id kept in `unreadable_ids`.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import IO, Any

from tui.safe_files import RefusedFile, open_file
from tui.unlock import cells
from tui.unlock.clock import BootTime
from tui.unlock.items import UNFINISHED, Item, ItemState
from tui.unlock.log_query import INDEXED_LENGTH, LogQuery, LogSort
from tui.unlock.owner import new_owner, owner_gone

SCHEMA_VERSION = 5
LEASE_SECONDS = 120.0
"""How long a claim holds unless its owner renews it (a running engine does, well inside it)."""

_UNFINISHED = tuple(sorted(UNFINISHED))
# Literal, not bound: SQLite uses a partial index only for a query that repeats its WHERE.
_UNFINISHED_SQL = "state IN (" + ", ".join(f"'{state}'" for state in _UNFINISHED) + ")"
# What the log's search looks in (`find_ids`).
_SEARCHED_COLUMNS = ("link", "hoster", "filename", "message")
_SEARCHED = ", ".join(_SEARCHED_COLUMNS)
_NEW_SEARCHED = ", ".join(f"NEW.{column}" for column in _SEARCHED_COLUMNS)
_OLD_SEARCHED = ", ".join(f"OLD.{column}" for column in _SEARCHED_COLUMNS)
_SEARCHED_CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _SEARCHED_COLUMNS)
_STATE_ORDER = (
    "CASE state "
    + " ".join(f"WHEN '{state}' THEN {rank}" for rank, state in enumerate(ItemState))
    + " END"
)
_SORTS: dict[LogSort, tuple[str, ...]] = {
    LogSort.TIME: (),  # the ids are in the order the items were queued
    LogSort.HOSTER: ("hoster COLLATE NOCASE",),
    LogSort.STATE: (_STATE_ORDER,),
    LogSort.ANSWER: ("status", "message COLLATE NOCASE"),
    LogSort.NAME: ("coalesce(filename, link) COLLATE NOCASE",),
}
"""What each sort of the log orders by, before the ids."""
_FOUND_BY_WORDS = "id IN (SELECT rowid FROM items_search WHERE items_search MATCH ?)"
_SORT_INDEXES = {sort: f"items_by_{sort}" for sort in _SORTS if _SORTS[sort]}
_MIGRATIONS = (
    # Version 1: the log.
    """
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
-- the items of a state
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
""",
    # Version 2: claims, versions and the change feed, for several processes at once.
    f"""
ALTER TABLE items ADD COLUMN owner TEXT;
ALTER TABLE items ADD COLUMN lease_until REAL;
ALTER TABLE items ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN change INTEGER NOT NULL DEFAULT 0;
-- changes_since()
CREATE INDEX items_change ON items (change);
-- add(): is the link queued already?
CREATE INDEX items_unfinished_link ON items (link) WHERE {_UNFINISHED_SQL};
-- renew() and release()
CREATE INDEX items_owner ON items (owner) WHERE owner IS NOT NULL;
CREATE TABLE change_counter (last INTEGER NOT NULL);
INSERT INTO change_counter VALUES (0);
-- Items deleted one by one (not by prune()), for changes_since().
CREATE TABLE removed (id INTEGER NOT NULL, change INTEGER NOT NULL, at REAL NOT NULL);
CREATE INDEX removed_change ON removed (change);
-- counts_by_state() without a scan of the items, kept by the triggers.
CREATE TABLE state_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
-- The queues paused now, by owner: another process does not wait on their items.
CREATE TABLE paused_queues (owner TEXT PRIMARY KEY, reason TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO state_counts SELECT state, count(*) FROM items GROUP BY state;
CREATE TRIGGER items_counted_insert AFTER INSERT ON items BEGIN
    INSERT INTO state_counts VALUES (NEW.state, 1) ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER items_counted_update AFTER UPDATE OF state ON items
WHEN OLD.state IS NOT NEW.state BEGIN
    UPDATE state_counts SET n = n - 1 WHERE state = OLD.state;
    INSERT INTO state_counts VALUES (NEW.state, 1) ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER items_counted_delete AFTER DELETE ON items BEGIN
    UPDATE state_counts SET n = n - 1 WHERE state = OLD.state;
END;
""",
    # Version 3: the clocks at the last start, to tell a wall clock set ahead.
    """
CREATE TABLE clocks (boot TEXT NOT NULL, since_boot REAL NOT NULL, wall REAL NOT NULL);
""",
    # Version 4: fair use by account (a key of its API URL and login, `account_key`):
    # the trend of one account must not show another's. The samples before name
    # none, so they go.
    # And the log's search, a full-text index of the texts of the items
    # (any three characters in a row: a part of a word is found too), kept by
    # triggers, so every process's writes keep it whole, older linkdecks' too.
    f"""
DROP TABLE fairuse;
CREATE TABLE fairuse (
    account TEXT NOT NULL,
    at REAL NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (account, at)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE items_search USING fts5 (
    {_SEARCHED}, content = 'items', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO items_search (items_search) VALUES ('rebuild');
-- find_ids() sorted by a column of the log, 100,000 items without a sort.
CREATE INDEX {_SORT_INDEXES[LogSort.HOSTER]} ON items ({_SORTS[LogSort.HOSTER][0]});
CREATE INDEX {_SORT_INDEXES[LogSort.STATE]} ON items ({_SORTS[LogSort.STATE][0]});
CREATE INDEX {_SORT_INDEXES[LogSort.ANSWER]} ON items ({", ".join(_SORTS[LogSort.ANSWER])});
CREATE INDEX {_SORT_INDEXES[LogSort.NAME]} ON items ({_SORTS[LogSort.NAME][0]});
CREATE TRIGGER items_searched_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_search (rowid, {_SEARCHED}) VALUES (NEW.id, {_NEW_SEARCHED});
END;
CREATE TRIGGER items_searched_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_search (items_search, rowid, {_SEARCHED})
    VALUES ('delete', OLD.id, {_OLD_SEARCHED});
END;
CREATE TRIGGER items_searched_update AFTER UPDATE OF {_SEARCHED} ON items
WHEN {_SEARCHED_CHANGED} BEGIN
    INSERT INTO items_search (items_search, rowid, {_SEARCHED})
    VALUES ('delete', OLD.id, {_OLD_SEARCHED});
    INSERT INTO items_search (rowid, {_SEARCHED}) VALUES (NEW.id, {_NEW_SEARCHED});
END;
""",
    # Version 5: downloads, one per item, each a record the core writes as JSON
    # (what a resume needs after a crash), claimed by the process downloading it.
    """
CREATE TABLE downloads (
    item_id INTEGER PRIMARY KEY,
    record TEXT NOT NULL,
    owner TEXT,
    lease_until REAL,
    updated REAL NOT NULL
);
CREATE TRIGGER items_download_delete AFTER DELETE ON items BEGIN
    DELETE FROM downloads WHERE item_id = OLD.id;
END;
""",
)
assert len(_MIGRATIONS) == SCHEMA_VERSION
_COLUMNS = (
    "link, hoster, state, created, updated, next_attempt_at, attempts, status, message, "
    "location, filename, filesize, reused, forced"
)
# What the queries read: a file without them is not a linkdeck history.
_TABLES = {
    "items": f"{_COLUMNS}, owner, version",
    "fairuse": "account, at, value",
    "hosters": "hoster, last_ok, unavailable_since, unavailable_until",
    "items_search": _SEARCHED,
    "downloads": "item_id, record, owner, lease_until, updated",
}
FAIRUSE_SAMPLES_KEPT = 4096
"""Fair-use samples kept per account: a week of one every 5 minutes (the sampling
rule's most), with room; a file written by someone else is read no further."""
_COMPANIONS = ("-wal", "-shm", "-journal")
_MAGIC = b"SQLite format 3\x00"
_SELECT = f"id, {_COLUMNS}, owner, version"
_ASSIGNMENTS = ", ".join(f"{name.strip()} = ?" for name in _COLUMNS.split(","))
_LINKS_PER_QUERY = 10_000
"""Direct links read at a time: a huge log never sits in memory twice."""
_IDS_PER_QUERY = 500
"""Below SQLite's oldest limit of 999 bound parameters."""


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


class HistoryWriteError(HistoryError):
    """A write to the history failed; nothing of it was kept. `reason` says why
    in a few words ("the disk is full")."""

    def __init__(self, path: Path, error: BaseException) -> None:
        self.reason = _write_failure_reason(error)
        super().__init__(f"{path} could not be written: {self.reason}")
        self.path = path


_WRITE_FAILURES = {
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_READONLY: "the file or its file system is read-only",
    sqlite3.SQLITE_IOERR: "an input/output error",
    sqlite3.SQLITE_BUSY: "another process keeps it locked",
    sqlite3.SQLITE_LOCKED: "another process keeps it locked",
    sqlite3.SQLITE_CANTOPEN: "it cannot be opened",
    sqlite3.SQLITE_PERM: "permission denied",
}


def _write_failure_reason(error: BaseException) -> str:
    if isinstance(error, OSError):
        return (error.strerror or type(error).__name__).lower()
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF  # the primary result code
    return _WRITE_FAILURES.get(code) or str(error)[:200] or type(error).__name__


class StaleItem(Exception):
    """The row is no longer as this process last read or wrote it: another process
    changed it, holds it or deleted it. `current` is the row as it is now."""

    def __init__(self, current: Item | None) -> None:
        super().__init__("the item was changed in the history by another process")
        self.current = current


@dataclass(frozen=True, slots=True)
class Added:
    new: list[Item]
    """The items stored, with their ids, claimed by this history while unfinished."""
    queued: list[Item]
    """The unfinished items the history already had for some of the links (not stored again)."""


@dataclass(frozen=True, slots=True)
class Changes:
    items: list[Item]
    """Items added or changed, in the order of their changes."""
    removed: list[int]
    """Ids of items deleted."""
    cursor: int
    """Where the next `changes_since` starts."""


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
    """The unlock log. Thread-safe: one connection behind a lock.

    `clock` gives the time of the leases (tests move it by hand)."""

    def __init__(self, path: Path | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path or default_path()
        self.owner = new_owner()
        """Whose claims this history writes: this process, and this history alone in it."""
        self._clock = clock
        identity, header = _create_private(self.path)
        if header not in (b"", _MAGIC):
            # Before SQLite opens it: on closing a file it cannot read, it deletes the
            # -wal and -shm beside it, which set_aside is to keep.
            raise HistoryDamaged(self.path, "file is not a database", identity)
        self._lock = threading.Lock()
        self._sorted: tuple[LogSort, tuple[int, int], list[str]] | None = None
        """The last sort's order of every id, and the history's state it is of."""
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
            self._migrate(identity)
            self._check_tables(identity)
        except HistoryError:
            self._db.close()
            raise
        except sqlite3.DatabaseError as exc:
            self._db.close()
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary result code
            if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                raise HistoryDamaged(self.path, str(exc), identity) from None
            if code in _WRITE_FAILURES:  # a full disk, a read-only file system...
                raise HistoryWriteError(self.path, exc) from None
            raise HistoryError(f"{self.path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _migrate(self, identity: tuple[int, int]) -> None:
        # IMMEDIATE: two processes opening a file at once migrate it once.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise HistoryError(f"{self.path} comes from a newer linkdeck (schema {version})")
            if version < len(_MIGRATIONS) and not self._has_full_text_search():
                # Else creating the index would look like a file of another program's.
                raise HistoryError(
                    f"{self.path} cannot be opened: this Python's SQLite has no full-text"
                    " search (FTS5, trigram)"
                )
            try:
                for script in _MIGRATIONS[version:]:
                    for statement in _statements(script):
                        self._db.execute(statement)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_ERROR:
                    raise HistoryWriteError(self.path, exc) from None  # a full disk...
                reason = f"not a linkdeck history: {exc}"  # tables of another program's
                raise HistoryDamaged(self.path, reason, identity) from None
            if version < SCHEMA_VERSION:
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _has_full_text_search(self) -> bool:
        options = {option for (option,) in self._db.execute("PRAGMA compile_options")}
        return "ENABLE_FTS5" in options and sqlite3.sqlite_version_info >= (3, 34)

    def _check_tables(self, identity: tuple[int, int]) -> None:
        for table, columns in _TABLES.items():
            try:
                self._db.execute(f"SELECT {columns} FROM {table} LIMIT 0")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_ERROR:
                    raise  # not the tables: the file cannot be read now
                reason = f"not a linkdeck history: {exc}"
                raise HistoryDamaged(self.path, reason, identity) from None

    def _items(self, rows: Iterable[tuple[Any, ...]]) -> list[Item]:
        """The items of `rows`, without those that cannot be read (noted)."""
        return [item for row in rows if (item := self._readable(row)) is not None]

    def _readable(self, row: tuple[Any, ...]) -> Item | None:
        """The item of `row`, or None (and its id noted) if it cannot be read."""
        item = _item(row)
        if item is None:
            self.unreadable_ids.add(row[0])
        return item

    def _get(self, db: sqlite3.Connection, item_id: int) -> Item | None:
        row = db.execute(f"SELECT {_SELECT} FROM items WHERE id = ?", (item_id,)).fetchone()
        return None if row is None else self._readable(row)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; any failure to write (a full disk, a read-only
        file system, an I/O error, a lock held past the busy timeout) is
        `HistoryWriteError`, and nothing of the transaction is kept."""
        with self._lock:
            try:
                # IMMEDIATE: a deferred transaction that reads and then writes fails at
                # once (SQLITE_BUSY, no waiting) when another process wrote in between.
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:  # a failed COMMIT may have ended it
                        with suppress(sqlite3.Error):
                            self._db.execute("ROLLBACK")
                    raise
            except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as error:
                if isinstance(error, sqlite3.IntegrityError | sqlite3.ProgrammingError):
                    raise  # a bug, not the disk
                raise HistoryWriteError(self.path, error) from None

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def _claim(self, state: ItemState) -> tuple[str | None, float | None]:
        """The owner and lease a row in `state` is written with: this history's
        while unfinished, nobody's once it ended."""
        if state in UNFINISHED:
            return self.owner, self._clock() + LEASE_SECONDS
        return None, None

    def _claimable(self, owner: str | None, lease_until: float | None, now: float) -> bool:
        """Whether an unfinished row may be taken: nobody's, or its owner ended or let
        its lease run out. Never one of this history's own: it may be in flight."""
        if owner is None:
            return True
        if owner == self.owner:
            return False
        return lease_until is None or lease_until <= now or owner_gone(owner)

    # Items

    def insert(self, items: Iterable[Item]) -> list[Item]:
        """Store items as they are, in one transaction (an import, a history built by a
        test); returns them with their ids. `add` is the one that queues links."""
        with self._transaction() as db:
            change = _next_change(db)
            return [self._store(db, item, change) for item in items]

    def add(self, items: Iterable[Item]) -> Added:
        """Store the items whose link is not unfinished in the history already, in one
        transaction with that check: a link queued or in flight in any process is
        never queued twice."""
        new, queued = [], []
        with self._transaction() as db:
            change = None
            for item in items:
                row = db.execute(
                    f"SELECT {_SELECT} FROM items WHERE link = ? AND {_UNFINISHED_SQL}"
                    " ORDER BY id LIMIT 1",
                    (item.link,),
                ).fetchone()
                queued_item = None if row is None else self._readable(row)
                if queued_item is not None:
                    queued.append(queued_item)
                    continue
                change = change or _next_change(db)
                new.append(self._store(db, item, change))
        return Added(new, queued)

    def _store(self, db: sqlite3.Connection, item: Item, change: int) -> Item:
        owner, lease = self._claim(item.state)
        cursor = db.execute(
            f"INSERT INTO items ({_COLUMNS}, owner, lease_until, version, change)"
            f" VALUES ({', '.join('?' * 18)})",
            (*_row(item), owner, lease, 1, change),
        )
        return replace(item, id=cursor.lastrowid or 0, owner=owner, version=1)

    def update(self, item: Item) -> Item:
        """Write `item` over its row if the row is still the version `item` came from
        and no other process holds it; returns it as stored (its new version, and
        this history as owner while unfinished). Raises StaleItem otherwise, and
        when `item` would be unfinished while another row of its link is."""
        owner, lease = self._claim(item.state)
        with self._transaction() as db:
            if (
                item.state in UNFINISHED
                and db.execute(
                    f"SELECT 1 FROM items WHERE link = ? AND {_UNFINISHED_SQL} AND id != ?",
                    (item.link, item.id),
                ).fetchone()
            ):
                # A retry of an ended item whose link was queued again meanwhile (in
                # any process): that row is the one sent, this one stays as it was.
                raise StaleItem(self._get(db, item.id))
            cursor = db.execute(
                f"UPDATE items SET {_ASSIGNMENTS}, owner = ?, lease_until = ?,"
                " version = version + 1, change = ?"
                " WHERE id = ? AND version = ? AND (owner IS NULL OR owner = ?)",
                (*_row(item), owner, lease, _next_change(db), item.id, item.version, self.owner),
            )
            if cursor.rowcount == 0:
                raise StaleItem(self._get(db, item.id))  # and the counter goes back
        return replace(item, owner=owner, version=item.version + 1)

    def take_back(self, ids: Iterable[int] | None = None) -> list[Item]:
        """Claim the unfinished items (every one, or those of `ids`) that no live
        process holds: nobody's, or left by an owner that ended or let its lease
        run out. An item caught unlocking is pending again: its answer never came.

        Returns the items asked for as they are now, oldest first: those claimed
        (or this history's already) with this history as owner, the others as
        their owner has them; with `ids`, ended items too."""
        now = self._clock()
        with self._transaction() as db:
            if ids is None:
                rows = db.execute(
                    f"SELECT {_SELECT}, lease_until FROM items WHERE {_UNFINISHED_SQL} ORDER BY id"
                ).fetchall()
            else:
                rows = []
                wanted = iter(sorted(set(ids)))
                while chunk := list(islice(wanted, _IDS_PER_QUERY)):
                    rows += db.execute(
                        f"SELECT {_SELECT}, lease_until FROM items"
                        f" WHERE id IN ({', '.join('?' * len(chunk))}) ORDER BY id",
                        chunk,
                    ).fetchall()
            items, change = [], None
            for row in rows:
                item, lease_until = self._readable(row[:-1]), _lease(row[-1])
                if item is None:
                    continue
                if item.state in UNFINISHED and self._claimable(item.owner, lease_until, now):
                    change = change or _next_change(db)
                    state = ItemState.PENDING if item.state == ItemState.UNLOCKING else item.state
                    db.execute(
                        "UPDATE items SET owner = ?, lease_until = ?, state = ?,"
                        " version = version + 1, change = ? WHERE id = ?",
                        (self.owner, now + LEASE_SECONDS, str(state), change, item.id),
                    )
                    item = replace(item, state=state, owner=self.owner, version=item.version + 1)
                items.append(item)
        return items

    def renew(self) -> None:
        """Extend the leases of this history's items: the heartbeat of a running
        engine. Not a change others need to read."""
        with self._transaction() as db:
            lease = (self._clock() + LEASE_SECONDS, self.owner)
            db.execute("UPDATE items SET lease_until = ? WHERE owner = ?", lease)

    def renew_downloads(self) -> None:
        """Extend the leases of this history's downloads: the heartbeat of its
        download queue."""
        with self._transaction() as db:
            lease = (self._clock() + LEASE_SECONDS, self.owner)
            db.execute("UPDATE downloads SET lease_until = ? WHERE owner = ?", lease)

    def release(self) -> None:
        """Give up this history's claims (a clean stop), so the next process takes
        them back at once; an item left unlocking is pending again."""
        with self._transaction() as db:
            db.execute("DELETE FROM paused_queues WHERE owner = ?", (self.owner,))
            db.execute(
                "UPDATE downloads SET owner = NULL, lease_until = NULL WHERE owner = ?",
                (self.owner,),
            )
            if db.execute("SELECT 1 FROM items WHERE owner = ?", (self.owner,)).fetchone():
                db.execute(
                    "UPDATE items SET owner = NULL, lease_until = NULL,"
                    " state = CASE state WHEN 'unlocking' THEN 'pending' ELSE state END,"
                    " version = version + 1, change = ? WHERE owner = ?",
                    (_next_change(db), self.owner),
                )

    def set_paused(self, reason: str | None) -> None:
        """Say whether this history's queue is paused (None: running), so another
        process waiting for one of its items knows it will not come soon."""
        with self._transaction() as db:
            if reason is None:
                db.execute("DELETE FROM paused_queues WHERE owner = ?", (self.owner,))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO paused_queues VALUES (?, ?)", (self.owner, reason)
                )

    def paused_queues(self) -> dict[str, str]:
        """The owners whose queue is paused, with the reason."""
        return dict(self._query("SELECT owner, reason FROM paused_queues"))

    def delete(self, item_id: int) -> bool:
        """Delete an item no other process holds; False if one does or it is gone."""
        with self._transaction() as db:
            row = db.execute("SELECT owner FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is None or row[0] not in (None, self.owner):
                return False
            db.execute("DELETE FROM items WHERE id = ?", (item_id,))
            db.execute(
                "INSERT INTO removed VALUES (?, ?, ?)", (item_id, _next_change(db), self._clock())
            )
        return True

    def get(self, item_id: int) -> Item | None:
        with self._lock:
            return self._get(self._db, item_id)

    # Downloads: a record per item (the core's JSON), claimed like an unfinished item

    def downloads(self) -> list[tuple[int, str, bool]]:
        """Every download's item id, record and whether another live process holds it."""
        now = self._clock()
        rows = self._query("SELECT item_id, record, owner, lease_until FROM downloads")
        return [
            (
                item_id,
                record,
                owner not in (None, self.owner) and not self._claimable(owner, _lease(lease), now),
            )
            for item_id, record, owner, lease in rows
            if isinstance(item_id, int) and isinstance(record, str)
        ]

    def claim_download(self, item_id: int, record: str) -> str | None:
        """Write `record` as `item_id`'s download and hold it for this process,
        unless another live process holds it: then its record, untouched."""
        now = self._clock()
        with self._transaction() as db:
            row = db.execute(
                "SELECT record, owner, lease_until FROM downloads WHERE item_id = ?", (item_id,)
            ).fetchone()
            if (
                row is not None
                and row[1] != self.owner
                and not self._claimable(row[1], _lease(row[2]), now)
            ):
                return str(row[0])
            db.execute(
                "INSERT OR REPLACE INTO downloads VALUES (?, ?, ?, ?, ?)",
                (item_id, record, self.owner, now + LEASE_SECONDS, now),
            )
        return None

    def save_download(self, item_id: int, record: str, *, hold: bool) -> bool:
        """Write the record of a download this process holds (or nobody does);
        `hold`: keep holding it, else let it go. False when another process took it."""
        now = self._clock()
        owner, lease = (self.owner, now + LEASE_SECONDS) if hold else (None, None)
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE downloads SET record = ?, owner = ?, lease_until = ?, updated = ?"
                " WHERE item_id = ? AND (owner IS NULL OR owner = ?)",
                (record, owner, lease, now, item_id, self.owner),
            )
            if (
                cursor.rowcount == 0
                and db.execute("SELECT 1 FROM downloads WHERE item_id = ?", (item_id,)).fetchone()
                is None
            ):
                db.execute(
                    "INSERT INTO downloads VALUES (?, ?, ?, ?, ?)",
                    (item_id, record, owner, lease, now),
                )
                return True
        return cursor.rowcount == 1

    # What other processes changed

    def data_version(self) -> int:
        """A number that changes whenever another connection commits to the file:
        checked on a timer, so nothing is read while nothing changes."""
        with self._lock:
            (version,) = self._db.execute("PRAGMA data_version").fetchone()
        return version

    def change_cursor(self) -> int:
        """Where `changes_since` starts to read what changes from now on."""
        ((last,),) = self._query("SELECT last FROM change_counter")
        return last

    def changes_since(self, cursor: int) -> Changes:
        """The items added, changed and deleted since `cursor` (by any process),
        read through the index of changes: never the whole table."""
        with self._lock:
            self._db.execute("BEGIN")  # one snapshot for the three reads
            try:
                rows = self._db.execute(
                    f"SELECT {_SELECT} FROM items WHERE change > ? ORDER BY change, id", (cursor,)
                ).fetchall()
                removed = self._db.execute(
                    "SELECT id FROM removed WHERE change > ? ORDER BY change", (cursor,)
                ).fetchall()
                (last,) = self._db.execute("SELECT last FROM change_counter").fetchone()
            finally:
                self._db.execute("COMMIT")
        items = self._items(rows)
        present = {item.id for item in items}  # a deleted id may be stored again
        gone = [item_id for (item_id,) in removed if item_id not in present]
        return Changes(items, list(dict.fromkeys(gone)), last)

    def recent(self, limit: int = 100) -> list[Item]:
        """The last `limit` items, newest first."""
        rows = self._query(f"SELECT {_SELECT} FROM items ORDER BY id DESC LIMIT ?", (limit,))
        return self._items(rows)

    def ids(self) -> list[int]:
        """Every item's id, oldest first: what the dashboard's log holds (it reads
        the few rows on screen with `get`)."""
        with self._lock:
            return [id_ for (id_,) in self._db.execute("SELECT id FROM items ORDER BY id")]

    def find_ids(self, query: LogQuery) -> list[int]:
        """The ids of the items `query` finds, in its order."""
        return list(map(int, self.find_keys(query)))

    def find_keys(self, query: LogQuery) -> list[str]:
        """The ids of the items `query` finds, in its order, as text: the keys of
        the log's rows. Words of three characters or more are found through the
        full-text index; a shorter one, or a state filter alone, reads the rows."""
        conditions, params = [], []
        long_terms = [term for term in query.terms if len(term) >= INDEXED_LENGTH]
        if long_terms:
            conditions.append(_FOUND_BY_WORDS)
            # Each word a quoted string: whatever it holds is never FTS syntax.
            params.append(" AND ".join('"' + term.replace('"', '""') + '"' for term in long_terms))
        for term in query.terms:
            if len(term) < INDEXED_LENGTH:
                conditions.append(
                    "(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in _SEARCHED_COLUMNS) + ")"
                )
                params += [_like_pattern(term)] * len(_SEARCHED_COLUMNS)
        if query.states is not None:
            conditions.append(f"state IN ({', '.join('?' * len(query.states))})")
            params += sorted(str(state) for state in query.states)
        where = " AND ".join(conditions) or "1"
        direction = "DESC" if query.descending else "ASC"
        order = ", ".join(f"{part} {direction}" for part in (*_SORTS[query.sort], "id"))
        if where == _FOUND_BY_WORDS and query.sort is LogSort.TIME:
            # The words alone, in the order queued: the index has the ids in that
            # order, and reading them there is twice as fast as through the items.
            sql = (
                "SELECT rowid AS id FROM items_search WHERE items_search MATCH ?"
                f" ORDER BY rowid {direction}"
            )
        elif where != _FOUND_BY_WORDS and query.sort in _SORT_INDEXES:
            # Every id in the sort's order, kept until the history changes (the
            # sort's key fills it); a word too short for the index reads every
            # row in the table's order (the fastest), and that order keeps those
            # found: a third faster than a walk of the sort's index that reads
            # each row again.
            kept = self._sort_order(query.sort)
            if conditions:
                with self._lock:  # the ids found and the count in one snapshot
                    joined, count = self._db.execute(
                        "SELECT group_concat(id, ' '), (SELECT count(*) FROM items)"
                        f" FROM (SELECT id FROM items WHERE {where})",
                        params,
                    ).fetchone()
                found = joined.split() if joined else []
                # When every item is found (a letter typed first, often), the order
                # is the answer: read before, it holds no item that does not match.
                if len(found) < count:
                    found_set = set(found)
                    kept = [key for key in kept if key in found_set]
            return kept[::-1] if query.descending else list(kept)
        elif conditions and query.sort in _SORT_INDEXES:
            # Through the sort's index, each id looked up in the set of those found:
            # a scan of the index, where SQLite would otherwise read every row found
            # again in that order, or sort them (up to five times as slow).
            index = _SORT_INDEXES[query.sort]
            if where != _FOUND_BY_WORDS:
                where = f"id IN (SELECT id FROM items WHERE {where})"
            sql = f"SELECT id FROM items INDEXED BY {index} WHERE {where} ORDER BY {order}"
        else:
            sql = f"SELECT id FROM items WHERE {where} ORDER BY {order}"
        return self._joined_ids(sql, params)

    def _joined_ids(self, sql: str, params: Sequence[object] = ()) -> list[str]:
        """The ids `sql` selects, in its order, as text. One string SQLite joins,
        split in one call: for 100,000 ids, a third of the time of a row each and
        a conversion of each. The aggregate keeps the order of its subquery (an
        ORDER BY there is never flattened away)."""
        with self._lock:
            (joined,) = self._db.execute(
                f"SELECT group_concat(id, ' ') FROM ({sql})", params
            ).fetchone()
        return joined.split() if joined else []

    def _sort_order(self, sort: LogSort) -> list[str]:
        """Every id in `sort`'s ascending order, read again once the history
        changed (here, or in another process: SQLite's data_version)."""
        with self._lock:
            (others,) = self._db.execute("PRAGMA data_version").fetchone()
            state = (others, self._db.total_changes)
        if self._sorted is None or self._sorted[:2] != (sort, state):
            order = ", ".join((*_SORTS[sort], "id"))
            sql = f"SELECT id FROM items INDEXED BY {_SORT_INDEXES[sort]} ORDER BY {order}"
            self._sorted = (sort, state, self._joined_ids(sql))
        return self._sorted[2]

    def search(self, text: str, limit: int = 100) -> list[Item]:
        """Items whose link, hoster, file name, message or direct link contain `text`."""
        pattern = _like_pattern(text)
        where = " OR ".join(
            f"{column} LIKE ? ESCAPE '\\'"
            for column in ("link", "hoster", "filename", "message", "location")
        )
        rows = self._query(
            f"SELECT {_SELECT} FROM items WHERE {where} ORDER BY id DESC LIMIT ?",
            (*[pattern] * 5, limit),
        )
        return self._items(rows)

    def counts_by_state(self) -> dict[ItemState, int]:
        """How many items are in each state (kept by triggers: no scan of the items)."""
        rows = self._query("SELECT state, n FROM state_counts WHERE n > 0")
        known = {str(state) for state in ItemState}
        return {ItemState(state): count for state, count in rows if state in known}

    def reusable(self, link: str, since: float) -> Item | None:
        """The last unlock of `link` after `since`, if any. Reuses do not count: the
        service's free window starts when the link was really generated."""
        rows = self._query(
            f"SELECT {_SELECT} FROM items WHERE link = ? AND state = 'done' AND updated >= ?"
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
        for location in self.done_links():
            fp.write(f"{location}\n")
            count += 1
        return count

    def done_links(self) -> Iterator[str]:
        """The direct link of every item done, oldest first. The one column read
        alone: copying 100,000 links reads for a sixth of a second, not 1 s of whole rows."""
        last = 0
        query = (
            "SELECT id, location FROM items WHERE id > ? AND state = 'done'"
            " AND location IS NOT NULL ORDER BY id LIMIT ?"
        )
        while True:
            rows = self._query(query, (last, _LINKS_PER_QUERY))
            yield from (location for _, location in rows if isinstance(location, str) and location)
            if len(rows) < _LINKS_PER_QUERY:
                return
            last = rows[-1][0]

    def _iterate(self, where: str = "1", batch: int = 1000) -> Iterator[Item]:
        # Pages by id so a huge log never sits in memory at once.
        last = 0
        query = f"SELECT {_SELECT} FROM items WHERE id > ? AND ({where}) ORDER BY id LIMIT ?"
        while True:
            rows = self._query(query, (last, batch))
            yield from self._items(rows)
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def clocks(self) -> BootTime | None:
        """The clocks as `set_clocks` last wrote them; None for none, or for a row
        another program wrote that is not three such values."""
        rows = self._query("SELECT boot, since_boot, wall FROM clocks")
        if not rows:
            return None
        boot, since_boot, wall = rows[0]
        numbers = (since_boot, wall)
        if not isinstance(boot, str) or not all(
            isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n)
            for n in numbers
        ):
            return None
        return BootTime(boot, float(since_boot), float(wall))

    def set_clocks(self, clocks: BootTime) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM clocks")
            db.execute("INSERT INTO clocks VALUES (?, ?, ?)", clocks)

    def prune(self, older_than: float) -> int:
        """Delete finished items last changed before `older_than`; returns how many.

        Not written as removals for other processes to read: a dashboard open
        meanwhile shows those old rows as gone when it draws them."""
        with self._transaction() as db:
            cursor = db.execute(
                f"DELETE FROM items WHERE updated < ? AND NOT {_UNFINISHED_SQL}", (older_than,)
            )
            db.execute("DELETE FROM fairuse WHERE at < ?", (older_than,))
            db.execute("DELETE FROM removed WHERE at < ?", (older_than,))
            # Left by processes that ended paused without a clean stop.
            db.execute(
                "DELETE FROM paused_queues WHERE owner NOT IN"
                " (SELECT owner FROM items WHERE owner IS NOT NULL)"
            )
        return cursor.rowcount

    # Fair use over time, for the dashboard's sparkline

    def record_fairuse(self, account: str, at: float, value: float, *, kept_since: float) -> None:
        """A sample of `account`'s fair use; those of every account before
        `kept_since` go, and all but the last FAIRUSE_SAMPLES_KEPT of this one."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO fairuse VALUES (?, ?, ?)", (account, at, value))
            db.execute("DELETE FROM fairuse WHERE at < ?", (kept_since,))
            db.execute(
                "DELETE FROM fairuse WHERE account = ? AND at < (SELECT at FROM fairuse"
                " WHERE account = ? ORDER BY at DESC LIMIT 1 OFFSET ?)",
                (account, account, FAIRUSE_SAMPLES_KEPT - 1),
            )

    def fairuse_series(self, account: str, since: float) -> list[tuple[float, float]]:
        """`account`'s fair-use samples (time, value) from `since` on, oldest first."""
        rows = self._query(
            "SELECT at, value FROM fairuse WHERE account = ? AND at >= ? ORDER BY at LIMIT ?",
            (account, since, FAIRUSE_SAMPLES_KEPT),
        )
        return [sample for sample in map(_fairuse, rows) if sample is not None]

    # What recent unlocks say about each hoster

    def record_hoster_ok(self, hoster: str, at: float) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO hosters (hoster, last_ok) VALUES (?, ?)"
                " ON CONFLICT (hoster) DO UPDATE SET last_ok = excluded.last_ok,"
                " unavailable_since = NULL, unavailable_until = NULL",
                (hoster, at),
            )

    def record_hoster_unavailable(self, hoster: str, since: float, until: float) -> None:
        with self._transaction() as db:
            db.execute(
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


def _statements(script: str) -> Iterator[str]:
    """The statements of a script, each trigger whole (its body holds semicolons)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""


def _like_pattern(text: str) -> str:
    """A LIKE pattern (with ESCAPE '\\') that finds `text` anywhere, its wildcards as they are."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _next_change(db: sqlite3.Connection) -> int:
    """The stamp of the rows a transaction writes (the counter goes back on a rollback)."""
    db.execute("UPDATE change_counter SET last = last + 1")
    (change,) = db.execute("SELECT last FROM change_counter").fetchone()
    return change


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


def _lease(value: object) -> float | None:
    """A row's lease; one that cannot be read holds nothing."""
    try:
        return cells.optional_time(value)
    except cells.Unreadable:
        return None


def _item(row: tuple[Any, ...]) -> Item | None:
    """The item of a row, or None if a value is not one linkdeck writes."""
    (id_, link, hoster, state, created, updated, next_at, attempts, status, message,
     location, filename, filesize, reused, forced, owner, version) = row  # fmt: skip
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
            owner=cells.optional_text(owner),
            version=cells.integer(version),
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
