"""The durable outbox on a real SQLite file: replay, bounds and policies, damaged databases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

import pytest

from passerelle.daemon.outbox import DroppedRows, Outbox, OutboxError, OutboxFullError


def make(path: Path, **kwargs: object) -> Outbox:
    options: dict[str, object] = {"max_events": 1000, "max_bytes": 1 << 20, "when_full": "refuse"}
    options.update(kwargs)
    return Outbox(path, **options)  # type: ignore[arg-type]


async def test_committed_rows_survive_a_restart_in_order(tmp_path: Path) -> None:
    outbox = make(tmp_path / "o.db")
    await outbox.open()
    seqs = await asyncio.gather(*(outbox.append(uuid4(), f"t/{i}", f"p{i}".encode()) for i in range(50)))
    assert seqs == sorted(seqs)
    first = await outbox.fetch(0, 10)
    for row in first[:5]:
        outbox.delete(row.seq, len(row.payload) + len(row.topic))
    await outbox.close()

    again = make(tmp_path / "o.db")
    await again.open()
    assert again.count == 45
    rows = await again.fetch(0, 100)
    assert [r.topic for r in rows] == [f"t/{i}" for i in range(5, 50)]
    await again.close()


async def test_group_commit_batches_concurrent_appends(tmp_path: Path) -> None:
    outbox = make(tmp_path / "o.db", max_events=100_000)
    await outbox.open()
    await asyncio.gather(*(outbox.append(uuid4(), "t", b"x" * 100) for _ in range(2000)))
    assert outbox.count == 2000
    assert outbox.commits_total < 100, outbox.commits_total  # far fewer transactions than events
    await outbox.close()


async def test_refuse_policy_tells_the_driver_and_recovers(tmp_path: Path) -> None:
    full_changes: list[bool] = []
    outbox = make(tmp_path / "o.db", max_events=100)
    outbox.full_changed.connect(full_changes.append)
    await outbox.open()
    for i in range(100):
        await outbox.append(uuid4(), "t", str(i).encode())
    with pytest.raises(OutboxFullError):
        await outbox.append(uuid4(), "t", b"one too many")
    assert outbox.full
    assert outbox.refused_total == 1
    rows = await outbox.fetch(0, 10)
    outbox.delete(rows[0].seq, len(rows[0].payload) + len(rows[0].topic))
    await outbox.append(uuid4(), "t", b"room again")
    assert full_changes == [True, False]
    await outbox.close()


async def test_drop_oldest_policy_leaves_a_loss_event(tmp_path: Path) -> None:
    seen: list[DroppedRows] = []

    def loss(dropped: DroppedRows) -> tuple[str, object, bytes]:
        seen.append(dropped)
        return "base/bridge/loss", uuid4(), b'{"loss": true}'

    outbox = make(tmp_path / "o.db", max_events=100, when_full="drop_oldest", loss_event=loss)
    await outbox.open()
    ids = [uuid4() for _ in range(150)]
    for event_id in ids:
        await outbox.append(event_id, "base/scan", b"event")
    rows = await outbox.fetch(0, 1000)
    assert len(rows) <= 100
    assert outbox.count == len(rows)
    losses = [r for r in rows if r.topic == "base/bridge/loss"]
    assert losses, "a drop must be announced"
    assert sum(d.count for d in seen) == outbox.dropped_total
    kept = [r.event_id for r in rows if r.topic == "base/scan"]
    assert kept == [str(i) for i in ids[-len(kept) :]]  # the newest survive, in order
    assert seen[0].first_event_id == str(ids[0])
    await outbox.close()


async def test_a_file_that_is_not_a_database_is_moved_aside_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    path.write_bytes(b"this is not a database" * 100)
    outbox = make(path)
    await outbox.open()  # a fresh outbox: events keep flowing while the damage waits for a person
    await outbox.append(uuid4(), "t", b"new")
    [incident] = outbox.damage.open_incidents()
    assert "does not start with an SQLite header" in incident.reason
    [kept] = incident.moved_to
    assert (tmp_path / kept).read_bytes() == b"this is not a database" * 100
    await outbox.close()


async def test_unusable_state_directory_is_reported_at_start(tmp_path: Path) -> None:
    # Tests run as root, which ignores permission bits: a state "directory" that is a file is the
    # unwritable location every user gets.
    blocker = tmp_path / "state"
    blocker.write_text("not a directory")
    outbox = make(blocker / "outbox.sqlite3")
    with pytest.raises(OutboxError, match="cannot be used"):
        await outbox.open()


async def test_a_row_published_before_its_commit_is_still_stored_then_deleted(tmp_path: Path) -> None:
    outbox = make(tmp_path / "o.db")
    await outbox.open()
    committed = outbox.submit(uuid4(), "t", b"fast")
    rows = await outbox.fetch(0, 10)  # served from memory: the live path does not wait for the disk
    assert [r.payload for r in rows] == [b"fast"]
    outbox.delete(rows[0].seq, len(b"fast") + 1)  # its PUBACK came back before the commit finished
    assert await committed == rows[0].seq
    assert outbox.count == 0
    assert await outbox.fetch(0, 10) == []
    await outbox.close()
    again = make(tmp_path / "o.db")
    await again.open()
    assert again.count == 0  # the insert and the delete both reached the disk, in that order
    await again.close()


async def test_rows_beyond_the_memory_window_come_from_the_database(tmp_path: Path) -> None:
    from passerelle.daemon.outbox import MEMORY_WINDOW

    outbox = make(tmp_path / "o.db", max_events=100_000)
    await outbox.open()
    total = MEMORY_WINDOW + 1000
    await asyncio.gather(*(outbox.append(uuid4(), "t", str(i).encode()) for i in range(total)))
    seen: list[bytes] = []
    last = 0
    while True:
        page = await outbox.fetch(last, 500)
        if not page:
            break
        seen += [r.payload for r in page]
        last = page[-1].seq
    assert seen == [str(i).encode() for i in range(total)]
    await outbox.close()


async def test_a_second_daemon_on_the_same_outbox_is_refused(tmp_path: Path) -> None:
    first = make(tmp_path / "o.db")
    await first.open()
    second = make(tmp_path / "o.db")
    with pytest.raises(OutboxError, match="in use by another passerelle"):
        await second.open()
    await first.close()
    await second.open()  # free again once the first one is gone
    await second.close()
