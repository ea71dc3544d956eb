"""The writer's batches: a deletion never runs ahead of its row's insertion."""

from __future__ import annotations

import asyncio

from passerelle.daemon.outbox_batch import Append, Batch
from passerelle.daemon.outbox_types import OutboxRow


def batch_of(seqs: list[int], deletes: list[int]) -> Batch:
    loop = asyncio.new_event_loop()
    try:
        appends = [Append(OutboxRow(s, f"id-{s}", "t", b"{}", 0.0), loop.create_future()) for s in seqs]
    finally:
        loop.close()
    return Batch(appends=appends, deletes=list(deletes), trim=True, loss_seq=99)


def test_a_small_batch_is_committed_whole() -> None:
    batch = batch_of([1, 2], [1])
    first, rest = batch.split(5)
    assert first is batch and (first.deletes, rest.appends, rest.deletes) == ([1], [], [])


def test_deletions_of_rows_left_for_the_next_commit_go_with_them() -> None:
    # Rows 3 and 4 were published and acknowledged before their commit; 0 was committed earlier.
    first, rest = batch_of([1, 2, 3, 4], [0, 3, 4]).split(2)
    assert [a.row.seq for a in first.appends] == [1, 2]
    assert first.deletes == [0]
    assert [a.row.seq for a in rest.appends] == [3, 4]
    assert rest.deletes == [3, 4]
    assert (rest.trim, rest.loss_seq) == (True, 99)
