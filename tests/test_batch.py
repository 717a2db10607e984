"""The batch's counts, driven by the events the engine sends."""

from __future__ import annotations

from tui.core.batch import Batch
from tui.unlock.items import Item, ItemRemoved, ItemState


def event(item_id: int, state: ItemState) -> Item:
    link = f"https://a.example/{item_id}"
    return Item(id=item_id, link=link, hoster="a", state=state, created=0.0, updated=0.0)


def test_a_link_cleared_after_it_ended_still_counts_in_its_batch() -> None:
    batch = Batch()
    for n in range(3):
        batch.seen(event(n, ItemState.PENDING), ours=True)
    batch.seen(event(0, ItemState.DONE), ours=True)
    assert batch.seen(ItemRemoved(0), ours=True) is None  # D: clear finished
    progress = batch.seen(event(1, ItemState.FAILED), ours=True)
    assert progress is not None and (progress.total, progress.ended) == (3, 2)
    progress = batch.seen(ItemRemoved(2), ours=True)  # an unfinished one leaves
    assert progress is not None and progress.finished
    assert progress.summary() == "2 links: 1 done, 1 failed"
