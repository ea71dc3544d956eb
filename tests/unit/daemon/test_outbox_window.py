"""A read of the outbox that overlaps a commit leaves no row behind (found by the throughput bench:
blocks of rows stayed unpublished until the next start)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

from passerelle.daemon.outbox import MAX_GROUP, MEMORY_WINDOW, Outbox


async def test_rows_leaving_the_memory_window_during_a_read_are_still_read(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", max_events=100_000, max_bytes=1 << 30, when_full="refuse")
    await outbox.open()
    first = MEMORY_WINDOW + 500  # the oldest 500 are then only in the database
    await asyncio.gather(*(outbox.append(uuid4(), "t", str(i).encode()) for i in range(first)))
    more = [outbox.submit(uuid4(), "t", str(first + i).encode()) for i in range(MAX_GROUP)]
    while outbox._batch.appends:  # noqa: ASYNC110, SLF001 - no public signal for "group handed to the database thread"
        await asyncio.sleep(0)  # until the writer has handed the group to the database thread
    # This read queues behind that commit; the commit pushes committed rows out of the memory window.
    rows = await outbox.fetch(0, 100_000)
    await asyncio.gather(*more)
    assert [r.payload for r in rows] == [str(i).encode() for i in range(first + MAX_GROUP)]
    await outbox.close()
