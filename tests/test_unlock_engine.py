"""The unlock engine against the emulator over loopback, with a fake clock for delays."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tui.api import ApiClient, Credentials, Hoster, HosterMatcher
from tui.emulator import Emulator
from tui.settings import UnlockSettings
from tui.unlock import (
    Event,
    FakeClock,
    History,
    Item,
    ItemRemoved,
    ItemState,
    QueueState,
    UnlockEngine,
)

PREMIUM = Credentials("111111111", "1111")
FREE = Credentials("222222222", "2222")
EXHAUSTED = Credentials("555555555", "5555")
_unique = itertools.count()


def link(marker: str = "", hoster: str = "uploaded.net") -> str:
    """A fresh link of `hoster` (the emulator remembers flaky links per URL)."""
    n = next(_unique)
    if hoster == "share-online.biz":
        return f"https://share-online.biz/dl/ABCDEF{n:06d}"
    if hoster == "1fichier.com":
        return f"https://1fichier.com/?abc{n:06d}{marker.strip('/')}"
    return f"https://uploaded.net/file/abc{n:05d}{marker}x{n}.zip"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture(autouse=True)
def fresh_emulator(emulator: Emulator) -> None:
    emulator.reset_stats()
    emulator.faults.latency_ms = 0
    emulator.faults.malformed_json = False
    emulator.account("111111111").fairuse_left = 1.0


@dataclass
class Rig:
    emulator: Emulator
    path: Path
    clock: FakeClock = field(default_factory=FakeClock)
    events: list[Event] = field(default_factory=list)
    engines: list[UnlockEngine] = field(default_factory=list)

    def matcher(self) -> HosterMatcher:
        """The scenario's hosters, so that an engine with a wrong PIN can queue links."""
        hosters = self.emulator.scenario.hosters
        return HosterMatcher(tuple(Hoster(h.name, h.tlds, h.regexes) for h in hosters))

    async def engine(
        self,
        credentials: Credentials = PREMIUM,
        *,
        matcher: bool = True,
        retry_temporary: bool = True,
        **settings: object,
    ) -> UnlockEngine:
        engine = UnlockEngine(
            ApiClient(self.emulator.url, credentials),
            History(self.path),
            UnlockSettings(**settings),
            matcher=self.matcher() if matcher else None,
            clock=self.clock,
            retry_temporary=retry_temporary,
        )
        engine.subscribe(self.events.append)
        self.engines.append(engine)
        await engine.start()
        return engine

    def states(self, item_id: int) -> list[ItemState]:
        return [e.state for e in self.events if isinstance(e, Item) and e.id == item_id]

    @property
    def unlock_calls(self) -> int:
        return self.emulator.stats.calls["directdownloadlink"]


@pytest.fixture
async def rig(emulator: Emulator, tmp_path: Path) -> AsyncIterator[Rig]:
    rig = Rig(emulator, tmp_path / "history.sqlite3")
    yield rig
    for engine in rig.engines:
        await engine.stop()
        await engine.client.aclose()
        engine.history.close()


async def unlock_one(rig: Rig, url: str, **settings: object) -> Item:
    engine = await rig.engine(**settings)
    (item,) = engine.add(url)
    await engine.wait_idle()
    return engine.items[item.id]


async def test_success_records_every_state_and_the_direct_link(rig: Rig) -> None:
    engine = await rig.engine()
    (item,) = engine.add(f"  <{link()}>  ")
    assert item.hoster == "uploaded.net"
    await engine.wait_idle()
    done = engine.items[item.id]
    assert done.state == ItemState.DONE
    assert done.location and done.location.startswith(rig.emulator.base_url + "/dl/")
    assert done.filename and done.filesize
    assert [a.status for a in done.attempts] == [200]
    assert rig.states(item.id) == [ItemState.PENDING, ItemState.UNLOCKING, ItemState.DONE]
    assert engine.history.get(item.id) == done
    assert engine.history.hoster_outcomes()["uploaded.net"].last_ok == rig.clock.now()


@pytest.mark.parametrize(
    ("marker", "status"),
    [("/missing/", 404), ("/forbidden/", 403), ("/daily-limit/", 0), ("/strange/", 2)],
)
async def test_final_answers_fail_the_item_at_once(rig: Rig, marker: str, status: int) -> None:
    item = await unlock_one(rig, link(marker))
    assert (item.state, item.status, len(item.attempts)) == (ItemState.FAILED, status, 1)
    assert rig.unlock_calls == 1


async def test_undocumented_status_keeps_the_server_message(rig: Rig) -> None:
    item = await unlock_one(rig, link("/daily-limit/"))
    assert "Daily limit reached for this host!" in item.message


async def test_forced_link_no_hoster_serves_fails_with_400(rig: Rig) -> None:
    engine = await rig.engine()
    (item,) = engine.add("https://rapidgator.net/file/abc/x.rar")
    assert item.state == ItemState.UNSUPPORTED
    await engine.wait_idle()
    assert rig.unlock_calls == 0  # the spec forbids using the API as a file checker
    forced = engine.force(item.id)
    assert forced.forced
    await engine.wait_idle()
    assert (engine.items[item.id].state, engine.items[item.id].status) == (ItemState.FAILED, 400)


@pytest.mark.parametrize(
    ("marker", "status"), [("/broken/", 502), ("/busy/", 503), ("/link-limit/", 500)]
)
async def test_temporary_errors_retry_after_the_delay_up_to_the_limit(
    rig: Rig, marker: str, status: int
) -> None:
    engine = await rig.engine(max_attempts=3, retry_delay=180.0)
    (item,) = engine.add(link(marker))
    await engine.wait_idle()
    waiting = engine.items[item.id]
    assert (waiting.state, waiting.status) == (ItemState.WAITING, status)
    assert waiting.next_attempt_at == rig.clock.now() + 180
    rig.clock.advance(179)
    await engine.wait_idle()
    assert rig.unlock_calls == 1
    for calls in (2, 3):
        rig.clock.advance(1 if calls == 2 else 180)
        await engine.wait_idle()
        assert rig.unlock_calls == calls
    final = engine.items[item.id]
    assert final.state == ItemState.FAILED
    assert [a.status for a in final.attempts] == [status] * 3


async def test_flaky_link_is_done_on_the_third_attempt(rig: Rig) -> None:
    engine = await rig.engine()
    (item,) = engine.add(link("/flaky/"))
    for _ in range(2):
        await engine.wait_idle()
        assert engine.items[item.id].state == ItemState.WAITING
        rig.clock.advance(180)
    await engine.wait_idle()
    done = engine.items[item.id]
    assert done.state == ItemState.DONE
    assert [a.status for a in done.attempts] == [503, 503, 200]


async def test_malformed_answers_are_retried(rig: Rig) -> None:
    engine = await rig.engine()
    rig.emulator.faults.malformed_json = True
    (item,) = engine.add(link())
    await engine.wait_idle()
    waiting = engine.items[item.id]
    assert (waiting.state, waiting.status) == (ItemState.WAITING, None)
    assert "malformed" in waiting.message


async def test_no_retry_ends_temporary_failures_at_once(rig: Rig) -> None:
    engine = await rig.engine(retry_temporary=False)
    (item,) = engine.add(link("/busy/"))
    await engine.wait_idle()
    assert (engine.items[item.id].state, engine.items[item.id].status) == (ItemState.FAILED, 503)


async def test_links_wait_for_the_hoster_list(rig: Rig) -> None:
    engine = await rig.engine(matcher=False)
    supported, unsupported = engine.add(f"{link()} https://rapidgator.net/file/abc/x.rar")
    assert {supported.state, unsupported.state} == {ItemState.HELD}
    await engine.wait_idle(include_waiting=False)
    assert rig.unlock_calls == 0
    engine.set_matcher(rig.matcher())
    await engine.wait_idle()
    assert engine.items[supported.id].state == ItemState.DONE
    assert engine.items[supported.id].hoster == "uploaded.net"
    assert engine.items[unsupported.id].state == ItemState.UNSUPPORTED
    assert rig.unlock_calls == 1


async def test_unavailable_hoster_holds_its_other_links(rig: Rig) -> None:
    engine = await rig.engine(concurrency=1, hoster_hold=1800.0)
    first, second, third = engine.add(
        f"{link(hoster='share-online.biz')} {link(hoster='share-online.biz')} {link()}"
    )
    await engine.wait_idle()
    assert (engine.items[first.id].state, engine.items[first.id].status) == (ItemState.FAILED, 428)
    assert engine.items[second.id].state == ItemState.HELD
    assert engine.items[third.id].state == ItemState.DONE
    until = rig.clock.now() + 1800
    assert engine.queue_state.hoster_holds == {"share-online.biz": until}
    assert engine.history.hoster_outcomes()["share-online.biz"].unavailable_until == until
    assert rig.unlock_calls == 2
    held_link = engine.add(link(hoster="share-online.biz"))[0]
    assert held_link.state == ItemState.HELD  # a link added during the hold waits too
    rig.clock.advance(1800)
    await engine.wait_idle()
    assert engine.items[second.id].state == ItemState.FAILED  # the emulator's hoster stays away
    assert rig.unlock_calls == 3
    assert engine.items[held_link.id].state == ItemState.HELD  # held again by the new 428


async def test_hoster_hold_survives_a_restart(rig: Rig) -> None:
    engine = await rig.engine(concurrency=1)
    engine.add(link(hoster="share-online.biz"))
    await engine.wait_idle()
    await engine.stop()
    again = await rig.engine()
    (item,) = again.add(link(hoster="share-online.biz"))
    assert item.state == ItemState.HELD


async def test_free_account_fails_the_item_and_pauses_the_queue(rig: Rig) -> None:
    engine = await rig.engine(FREE, concurrency=1)
    first, second = engine.add(f"{link()} {link()}")
    await engine.wait_idle()
    assert (engine.items[first.id].state, engine.items[first.id].status) == (ItemState.FAILED, 402)
    assert engine.items[second.id].state == ItemState.PENDING
    assert engine.paused and engine.pause_reason == "account cannot download"
    assert rig.unlock_calls == 1
    engine.set_credentials(PREMIUM)
    await engine.wait_idle()
    assert engine.items[second.id].state == ItemState.DONE


async def test_exhausted_fair_use_holds_every_link(rig: Rig) -> None:
    engine = await rig.engine(EXHAUSTED, concurrency=1, fair_use_delay=600.0)
    first, second = engine.add(f"{link()} {link(hoster='1fichier.com')}")
    await engine.wait_idle()
    until = rig.clock.now() + 600
    assert engine.items[first.id].state == ItemState.WAITING
    assert engine.items[first.id].next_attempt_at == until
    assert engine.items[second.id].state == ItemState.HELD
    assert engine.queue_state.global_hold_until == until
    assert any(isinstance(e, QueueState) and e.global_hold_until == until for e in rig.events)
    assert rig.unlock_calls == 1
    rig.emulator.account("555555555").fairuse_left = 0.5  # fair use came back
    rig.clock.advance(600)
    await engine.wait_idle()
    assert {engine.items[i.id].state for i in (first, second)} == {ItemState.DONE}
    assert not engine.items[first.id].attempts[0].counted  # 509 does not use up the limit


async def test_wrong_pin_pauses_without_losing_links(rig: Rig) -> None:
    engine = await rig.engine(Credentials("111111111", "0000"), concurrency=2)
    items = engine.add(" ".join(link() for _ in range(4)))
    await engine.wait_idle()
    assert engine.paused and "login failed" in (engine.pause_reason or "")
    assert {engine.items[i.id].state for i in items} == {ItemState.PENDING}
    assert rig.unlock_calls == 2  # both slots answered 401, nothing more was sent
    assert all(not a.counted for i in items for a in engine.items[i.id].attempts)
    engine.set_credentials(PREMIUM)
    assert not engine.paused
    await engine.wait_idle()
    assert {engine.items[i.id].state for i in items} == {ItemState.DONE}
    assert "0000" not in repr(engine.client)


async def test_concurrency_never_exceeds_the_setting(rig: Rig) -> None:
    rig.emulator.faults.latency_ms = 60
    engine = await rig.engine(concurrency=3)
    items = engine.add(" ".join(link() for _ in range(12)))
    await engine.wait_idle()
    assert {engine.items[i.id].state for i in items} == {ItemState.DONE}
    assert rig.emulator.stats.max_concurrent_unlocks == 3


async def test_recent_success_is_reused_without_a_call(rig: Rig) -> None:
    engine = await rig.engine(reuse_window=1800.0)
    url = link()
    (first,) = engine.add(url)
    await engine.wait_idle()
    rig.clock.advance(1799)
    (again,) = engine.add(url)
    assert again.state == ItemState.DONE and again.reused
    assert again.location == engine.items[first.id].location
    await engine.wait_idle()
    assert rig.unlock_calls == 1
    rig.clock.advance(2)
    (later,) = engine.add(url)
    assert later.state == ItemState.PENDING and not later.reused
    await engine.wait_idle()
    assert rig.unlock_calls == 2


async def test_duplicates_of_queued_links_are_dropped(rig: Rig) -> None:
    engine = await rig.engine()
    engine.pause()
    url = link()
    assert len(engine.add(f"{url} {url}")) == 1
    assert engine.add(url) == []
    assert len(engine.add(f"{url} {link()}")) == 1


async def test_cancel_retry_and_remove(rig: Rig) -> None:
    engine = await rig.engine()
    engine.pause()
    first, second = engine.add(f"{link()} {link('/missing/')}")
    assert engine.cancel(first.id).state == ItemState.CANCELLED
    engine.resume()
    await engine.wait_idle()
    assert engine.items[first.id].state == ItemState.CANCELLED
    assert engine.items[second.id].state == ItemState.FAILED
    assert rig.unlock_calls == 1
    engine.retry(first.id)
    await engine.wait_idle()
    assert engine.items[first.id].state == ItemState.DONE
    engine.remove(second.id)
    assert second.id not in engine.items
    assert engine.history.get(second.id) is None
    assert ItemRemoved(second.id) in rig.events


async def test_cancel_while_unlocking(rig: Rig) -> None:
    rig.emulator.faults.latency_ms = 300
    engine = await rig.engine()
    (item,) = engine.add(link())
    while engine.items[item.id].state != ItemState.UNLOCKING:
        await asyncio.sleep(0.01)
    engine.cancel(item.id)
    await engine.wait_idle()
    assert engine.items[item.id].state == ItemState.CANCELLED
    assert engine.history.get(item.id).state == ItemState.CANCELLED


async def test_clean_stop_puts_links_in_flight_back_and_a_new_engine_finishes(rig: Rig) -> None:
    rig.emulator.faults.latency_ms = 300
    engine = await rig.engine(concurrency=2)
    items = engine.add(" ".join(link() for _ in range(4)))
    while not any(engine.items[i.id].state == ItemState.UNLOCKING for i in items):
        await asyncio.sleep(0.01)
    await engine.stop()
    stored = [engine.history.get(i.id) for i in items]
    assert {s.state for s in stored} == {ItemState.PENDING}
    rig.emulator.faults.latency_ms = 0
    again = await rig.engine()
    await again.wait_idle()
    assert {again.items[i.id].state for i in items} == {ItemState.DONE}


async def test_events_iterator(rig: Rig) -> None:
    engine = await rig.engine()
    stream = engine.events()
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)  # the iterator subscribes on its first step
    (item,) = engine.add(link())
    event = await first
    assert isinstance(event, Item) and (event.id, event.state) == (item.id, ItemState.PENDING)
    seen = [await anext(stream), await anext(stream)]
    assert [e.state for e in seen if isinstance(e, Item)] == [ItemState.UNLOCKING, ItemState.DONE]
    await stream.aclose()


async def test_old_items_are_pruned_on_start(rig: Rig) -> None:
    old = rig.clock.now() - 2 * 86400
    with History(rig.path) as history:
        (stored,) = history.insert(
            [Item(0, link(), "uploaded.net", ItemState.DONE, created=old, updated=old)]
        )
    engine = await rig.engine(history_days=1)
    assert engine.history.get(stored.id) is None


async def test_items_of_an_earlier_session_can_be_retried_forced_and_removed(rig: Rig) -> None:
    first = await rig.engine()
    (missing,) = first.add(link("/missing/"))
    (unsupported,) = first.add("https://example.com/nothing-serves-this")
    await first.wait_idle()
    assert first.items[missing.id].state == ItemState.FAILED
    await first.stop()

    later = await rig.engine()
    assert missing.id not in later.items and unsupported.id not in later.items
    retried = later.retry(missing.id)
    assert retried.state == ItemState.PENDING
    await later.wait_idle()
    assert later.items[missing.id].state == ItemState.FAILED
    assert len(later.items[missing.id].attempts) == 2
    assert later.force(unsupported.id).forced
    later.remove(missing.id)
    assert later.history.get(missing.id) is None
    with pytest.raises(KeyError):
        later.retry(missing.id)


# --- the wall clock steps: waits run on the monotonic clock ------------------

HOUR = 3600.0


@pytest.mark.parametrize("step", [-HOUR, HOUR])
async def test_a_retry_waits_its_delay_whatever_the_wall_clock_does(rig: Rig, step: float) -> None:
    engine = await rig.engine(retry_delay=180.0)
    (item,) = engine.add(link("/busy/"))
    await engine.wait_idle()
    rig.clock.step_wall(step)  # an NTP correction, a suspended laptop, a hand-set clock
    rig.clock.advance(179)
    await engine.wait_idle()
    assert rig.unlock_calls == 1  # set forward an hour: not sent early
    rig.clock.advance(1)
    await engine.wait_idle()
    assert rig.unlock_calls == 2  # set back an hour: not an hour late
    assert engine.items[item.id].attempts[-1].at == rig.clock.now()  # stored in wall time


@pytest.mark.parametrize("step", [-HOUR, HOUR])
async def test_holds_last_their_time_whatever_the_wall_clock_does(rig: Rig, step: float) -> None:
    rig.emulator.account("555555555").fairuse_left = 0.0
    engine = await rig.engine(EXHAUSTED, concurrency=1, fair_use_delay=600.0)
    _, held = engine.add(f"{link()} {link(hoster='1fichier.com')}")
    await engine.wait_idle()
    rig.clock.step_wall(step)
    # Shown in the wall time of now: ten minutes from when the hold began.
    assert engine.queue_state.global_hold_until == rig.clock.now() + 600
    rig.emulator.account("555555555").fairuse_left = 0.5
    rig.clock.advance(599)
    await engine.wait_idle()
    assert engine.items[held.id].state == ItemState.HELD
    rig.clock.advance(1)
    await engine.wait_idle()
    assert engine.items[held.id].state == ItemState.DONE


async def test_a_wall_clock_set_a_year_ahead_does_not_prune_the_log(rig: Rig) -> None:
    first = await rig.engine(history_days=30)  # the start that notes the clocks
    await first.stop()
    now = rig.clock.now()
    with History(rig.path) as history:
        history.insert(
            [
                Item(0, link(), "uploaded.net", ItemState.DONE, created=at, updated=at)
                for at in (now - 40 * 86400, now - 86400, now)
            ]
        )
    rig.clock.advance(86400)
    rig.clock.step_wall(365 * 86400)
    engine = await rig.engine(history_days=30)
    # A day passed on this boot, not a year: only the item 40 days old goes.
    assert len(engine.history.ids()) == 2
    await engine.stop()
    again = await rig.engine(history_days=30)  # and at the next start too
    assert len(again.history.ids()) == 2


@pytest.mark.parametrize(
    "row",
    [
        ("fake boot", "text", 0.0),
        ("fake boot", 0.0, float("inf")),
        (b"\xff", 0.0, 0.0),
        (7, b"x", 1),
    ],
)
async def test_a_clocks_row_another_program_wrote_is_ignored(rig: Rig, row: tuple) -> None:
    first = await rig.engine(history_days=30)
    await first.stop()
    with closing(sqlite3.connect(rig.path)) as db, db:
        db.execute("UPDATE clocks SET boot = ?, since_boot = ?, wall = ?", row)
    engine = await rig.engine(history_days=30)  # starts as without a reference
    assert engine.history.clocks() is not None  # and writes a good one
