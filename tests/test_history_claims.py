"""Claims in the shared history: two connections (or processes) on one file never
both own an unfinished item, take back only what nobody alive holds, never
overwrite each other's newer state, and see each other's changes cheaply."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from tui.unlock.history import LEASE_SECONDS, SCHEMA_VERSION, History, StaleItem
from tui.unlock.items import Item, ItemState

REPO = Path(__file__).resolve().parents[1]
T0 = 1_800_000_000.0


class Clock:
    """A clock the test moves by hand, for the leases."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def item(n: int, state: ItemState = ItemState.PENDING) -> Item:
    return Item(
        id=0,
        link=f"https://uploaded.net/file/claim{n:04d}/x.zip",
        hoster="uploaded.net",
        state=state,
        created=T0,
        updated=T0,
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite3"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def two(path: Path, clock: Clock) -> tuple[History, History]:
    return History(path, clock=clock), History(path, clock=clock)


def test_a_link_unfinished_in_another_connection_is_not_added_again(
    path: Path, clock: Clock
) -> None:
    first, second = two(path, clock)
    with first, second:
        added = first.add([item(1), item(2)])
        assert [i.owner for i in added.new] == [first.owner] * 2
        again = second.add([item(2), item(3)])
        assert [i.link for i in again.new] == [item(3).link]
        assert [(i.id, i.owner) for i in again.queued] == [(added.new[1].id, first.owner)]
        done = first.update(replace(added.new[0], state=ItemState.DONE))
        assert done.owner is None  # an ended item belongs to nobody
        assert [i.link for i in second.add([item(1)]).new] == [item(1).link]
        assert second.counts_by_state() == {
            ItemState.PENDING: 3,
            ItemState.DONE: 1,
        }  # fmt: skip


def test_an_item_claimed_by_a_live_owner_is_neither_taken_back_nor_overwritten(
    path: Path, clock: Clock
) -> None:
    first, second = two(path, clock)
    with first, second:
        (mine,) = first.add([item(1)]).new
        (seen,) = second.take_back()
        assert (seen.id, seen.owner, seen.state) == (mine.id, first.owner, ItemState.PENDING)
        with pytest.raises(StaleItem) as stale:
            second.update(replace(seen, state=ItemState.UNLOCKING))
        assert stale.value.current == mine
        assert not second.delete(mine.id)
        sending = first.update(replace(mine, state=ItemState.UNLOCKING))
        assert first.get(mine.id) == sending


def test_an_older_version_never_overwrites_a_newer_one(path: Path, clock: Clock) -> None:
    first, second = two(path, clock)
    with first, second:
        (failed,) = first.add([item(1)]).new
        failed = first.update(replace(failed, state=ItemState.FAILED, status=404))
        read_by_both = second.get(failed.id)
        assert read_by_both == failed
        retried = first.update(replace(failed, state=ItemState.PENDING, status=None))
        with pytest.raises(StaleItem) as stale:
            second.update(replace(read_by_both, state=ItemState.CANCELLED))
        assert stale.value.current == retried
        assert first.get(failed.id) == retried


def test_a_lease_that_ran_out_is_taken_back_and_the_old_owner_loses_it(
    path: Path, clock: Clock
) -> None:
    first, second = two(path, clock)
    with first, second:
        (mine,) = first.add([item(1)]).new
        sending = first.update(replace(mine, state=ItemState.UNLOCKING))
        clock.now += LEASE_SECONDS * 0.75
        first.renew()  # the heartbeat of a live owner
        clock.now += LEASE_SECONDS * 0.75
        assert second.take_back()[0].owner == first.owner  # renewed: still held
        clock.now += LEASE_SECONDS * 0.5
        (taken,) = second.take_back()
        # Its answer never came back here: pending again, in the second queue.
        assert (taken.owner, taken.state) == (second.owner, ItemState.PENDING)
        with pytest.raises(StaleItem):
            first.update(replace(sending, state=ItemState.DONE))
        first.renew()
        clock.now += LEASE_SECONDS * 0.9
        assert first.take_back()[0].owner == second.owner  # the renewal was not its


def test_a_download_lease_is_renewed_by_the_download_queue_alone(path: Path, clock: Clock) -> None:
    first, second = two(path, clock)
    with first, second:
        (mine,) = first.add([item(1)]).new
        assert first.claim_download(mine.id, "first's") is None
        clock.now += LEASE_SECONDS * 0.75
        first.renew_downloads()  # the heartbeat of a live download queue
        clock.now += LEASE_SECONDS * 0.75
        assert second.claim_download(mine.id, "second's") == "first's"  # still held
        first.renew()  # the unlock engine's heartbeat: its items' leases only
        clock.now += LEASE_SECONDS * 0.5
        assert second.claim_download(mine.id, "second's") is None


def test_the_items_of_a_dead_process_are_taken_back_at_once(path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from dataclasses import replace;"
        "from tui.unlock.history import History; from tui.unlock.items import Item, ItemState;"
        "h = History(Path(sys.argv[1]));"
        "items = [Item(0, f'https://uploaded.net/file/dead{n}/x.zip', 'uploaded.net',"
        " ItemState.PENDING, 1.0, 1.0) for n in range(3)];"
        "new = h.add(items).new; h.update(replace(new[0], state=ItemState.UNLOCKING))"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(path)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
        timeout=30,
    )
    # Real time: the leases the dead process wrote have not run out.
    with History(path, clock=time.time) as history:
        taken = history.take_back()
        assert [i.owner for i in taken] == [history.owner] * 3
        assert {i.state for i in taken} == {ItemState.PENDING}


def test_a_reused_pid_is_not_the_owner(path: Path, clock: Clock) -> None:
    """An owner is its machine, pid, start time and a random token: the same pid
    started later (a reused pid) takes back at once, another connection of this
    very process only once the lease has run out."""
    first, second = two(path, clock)
    with first, second:
        assert first.owner != second.owner
        first.add([item(1), item(2)])
        where, pid, started, token = first.owner.rsplit("/", 3)
        assert int(pid) == os.getpid()
        earlier_process = f"{where}/{pid}/{int(started or 0) - 1000}/{token}"
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("UPDATE items SET owner = ? WHERE link = ?", (earlier_process, item(1).link))
        owners = {i.link: i.owner for i in second.take_back()}
        assert owners == {item(1).link: second.owner, item(2).link: first.owner}


def test_released_items_are_taken_back_by_the_next_one(path: Path, clock: Clock) -> None:
    first, second = two(path, clock)
    with first, second:
        new = first.add([item(1), item(2)]).new
        first.update(replace(new[0], state=ItemState.UNLOCKING))
        first.release()
        taken = second.take_back()
        assert [(i.owner, i.state) for i in taken] == [(second.owner, ItemState.PENDING)] * 2


def test_changes_of_another_connection_are_read_alone(path: Path, clock: Clock) -> None:
    first, second = two(path, clock)
    with first, second:
        old = first.add([item(n) for n in range(50)]).new
        cursor, version = second.change_cursor(), second.data_version()
        assert second.data_version() == version  # nothing changed: nothing to read
        first.renew()  # a heartbeat is no change to show
        assert second.changes_since(cursor).items == []
        done = first.update(replace(old[7], state=ItemState.DONE))
        (new,) = first.add([item(99)]).new
        assert first.delete(old[3].id)
        assert second.data_version() != version
        changes = second.changes_since(cursor)
        assert changes.items == [done, new]
        assert changes.removed == [old[3].id]
        assert second.changes_since(changes.cursor).items == []
        assert second.counts_by_state() == {ItemState.PENDING: 49, ItemState.DONE: 1}


def test_a_version_1_file_is_migrated(path: Path, clock: Clock) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.executescript(V1_SCHEMA)
        db.executemany(
            "INSERT INTO items (link, hoster, state, created, updated) VALUES (?, ?, ?, ?, ?)",
            [
                (item(1).link, "uploaded.net", "done", T0, T0),
                (item(2).link, "uploaded.net", "unlocking", T0, T0),
                (item(3).link, "uploaded.net", "waiting", T0, T0),
            ],
        )
        db.execute("PRAGMA user_version = 1")
        db.commit()
    with History(path, clock=clock) as history:
        assert history._query("PRAGMA user_version") == [(SCHEMA_VERSION,)]
        assert history.counts_by_state() == {
            ItemState.DONE: 1,
            ItemState.UNLOCKING: 1,
            ItemState.WAITING: 1,
        }  # fmt: skip
        taken = history.take_back()
        assert [(i.link, i.state) for i in taken] == [
            (item(2).link, ItemState.PENDING),
            (item(3).link, ItemState.WAITING),
        ]
        assert history.add([item(3)]).new == []  # unfinished: not queued twice
        assert history.counts_by_state()[ItemState.PENDING] == 1
    with History(path, clock=clock) as again:  # opening it again changes nothing
        assert len(again.recent()) == 3


V1_SCHEMA = """
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
CREATE INDEX items_state ON items (state);
CREATE INDEX items_done_link ON items (link, updated) WHERE state = 'done';
CREATE INDEX items_updated ON items (updated);
CREATE TABLE fairuse (at REAL PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE hosters (
    hoster TEXT PRIMARY KEY,
    last_ok REAL,
    unavailable_since REAL,
    unavailable_until REAL
) WITHOUT ROWID;
"""


def test_a_retry_of_an_ended_item_whose_link_was_queued_again_is_refused(
    path: Path, clock: Clock
) -> None:
    """Process A has the link failed; `linkdeck unlock` queues it again in B;
    a retry of A's old row must not make a second unfinished row of the link."""
    first, second = two(path, clock)
    with first, second:
        (failed,) = first.add([item(1, ItemState.FAILED)]).new
        (queued,) = second.add([item(1)]).new
        with pytest.raises(StaleItem) as stale:
            first.update(replace(failed, state=ItemState.PENDING))
        assert stale.value.current is not None
        assert stale.value.current.state == ItemState.FAILED
        assert second.counts_by_state() == {ItemState.FAILED: 1, ItemState.PENDING: 1}
        # Once the other row ends, the retry goes through.
        second.update(replace(queued, state=ItemState.DONE))
        retried = first.update(replace(stale.value.current, state=ItemState.PENDING))
        assert retried.owner == first.owner


def test_a_full_disk_while_migrating_is_no_damage(tmp_path: Path) -> None:
    """A version-1 history on a full disk (neither its write-ahead log nor its
    migration can be written) is refused as not writable: never set aside as
    damaged or as another program's file."""
    from tui.unlock.history import HistoryDamaged, HistoryWriteError

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        db = disk / "history.sqlite3"
        with closing(sqlite3.connect(db)) as v1:
            v1.executescript(V1_SCHEMA)
            v1.executemany(
                "INSERT INTO items (link, state, created, updated) VALUES (?, 'done', 0, 0)",
                [(f"https://uploaded.net/file/mig{n:05d}/x.zip",) for n in range(300)],
            )
            v1.execute("PRAGMA user_version = 1")
            v1.commit()
        with open(disk / "filler", "wb", buffering=0) as filler, contextlib.suppress(OSError):
            while True:
                filler.write(b"\0" * 4096)
        before = db.read_bytes()
        with pytest.raises(HistoryWriteError) as refused:
            History(db)
        assert not isinstance(refused.value, HistoryDamaged)
        assert "the disk is full" in str(refused.value)
        assert db.read_bytes() == before
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
