"""Damaged outbox files on a real SQLite database: found at start or where rows are read back, never
published as if intact, moved aside with the incident kept until acknowledged."""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
import sqlite3
from pathlib import Path
from uuid import uuid4

import pytest

from passerelle.daemon.outbox import DroppedRows, Outbox, OutboxRow

log = logging.getLogger(__name__)
ROWS = 300
TRIALS = 40


def make(path: Path, losses: list[DroppedRows] | None = None) -> Outbox:
    def loss(dropped: DroppedRows) -> tuple[str, object, bytes]:
        if losses is not None:
            losses.append(dropped)
        return "base/bridge/loss", uuid4(), b'{"loss": true}'

    return Outbox(path, max_events=10_000, max_bytes=1 << 24, when_full="refuse", loss_event=loss)  # type: ignore[arg-type]


async def fill(path: Path, rows: int = ROWS) -> list[OutboxRow]:
    outbox = make(path)
    await outbox.open()
    await asyncio.gather(
        *(outbox.append(uuid4(), f"base/scan/{i}", b"payload %05d " % i * 20) for i in range(rows))
    )
    stored = await read_all(outbox)
    await outbox.close()
    return stored


async def read_all(outbox: Outbox) -> list[OutboxRow]:
    rows: list[OutboxRow] = []
    while page := await outbox.fetch(rows[-1].seq if rows else 0, 500):
        rows += page
    return rows


async def crash_copy(path: Path, target: Path, rows: int = 50) -> list[OutboxRow]:
    """Files as a power cut would leave them: committed rows still in the WAL, not checkpointed."""
    outbox = make(path)
    await outbox.open()
    await asyncio.gather(*(outbox.append(uuid4(), "base/scan", b"x" * 300) for _ in range(rows)))
    stored = await read_all(outbox)
    for extra in ("", "-wal"):
        shutil.copyfile(path.with_name(path.name + extra), target.with_name(target.name + extra))
    await outbox.close()
    return stored


def moved_aside(directory: Path, companion: str = "") -> list[Path]:
    return list(directory.glob(f"o.db.damaged-*{companion}"))


async def opened_damage(path: Path) -> tuple[list[str], list[OutboxRow]]:
    outbox = make(path)
    await outbox.open()
    rows = await read_all(outbox)
    reasons = [i.reason for i in outbox.damage.open_incidents()]
    await outbox.close()
    return reasons, rows


async def test_an_empty_database_file_is_damage_not_a_new_outbox(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    path.touch()
    reasons, rows = await opened_damage(path)
    assert rows == [] and "empty (0 bytes)" in reasons[0]
    assert moved_aside(tmp_path)  # kept for analysis


async def test_an_intact_crash_image_opens_with_every_committed_row(tmp_path: Path) -> None:
    stored = await crash_copy(tmp_path / "live.db", tmp_path / "o.db")
    reasons, rows = await opened_damage(tmp_path / "o.db")
    assert reasons == [] and rows == stored  # the WAL check sees no damage where there is none


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda data: data[: len(data) // 2], "truncated"),
        (lambda data: random.Random(1).randbytes(len(data)), "WAL header is not valid"),
        (
            lambda data: data[:5000] + bytes(b ^ 0x5A for b in data[5000:5010]) + data[5010:],
            "fails its checksum",
        ),
    ],
    ids=["truncated", "garbage", "flipped-frame"],
)
async def test_a_damaged_wal_is_found_before_sqlite_drops_its_transactions(
    tmp_path: Path, damage: object, expected: str
) -> None:
    await crash_copy(tmp_path / "live.db", tmp_path / "o.db")
    wal = tmp_path / "o.db-wal"
    wal.write_bytes(damage(wal.read_bytes()))  # type: ignore[operator]
    reasons, rows = await opened_damage(tmp_path / "o.db")
    assert expected in reasons[0] and rows == []
    [moved] = moved_aside(tmp_path, "-wal")
    assert moved.stat().st_size > 0


async def test_seeded_byte_flips_in_pages_are_found_or_harmless(tmp_path: Path) -> None:
    pristine = tmp_path / "pristine.db"
    stored = await fill(pristine)
    size = pristine.stat().st_size
    chance = random.Random(20261130)
    outcome = {"at start": 0, "where read": 0, "harmless": 0, "missed": 0}
    quick_check_alone = 0
    for trial in range(TRIALS):
        path = tmp_path / f"t{trial}" / "o.db"
        path.parent.mkdir()
        data = bytearray(pristine.read_bytes())
        offset = chance.randrange(size)
        data[offset] ^= chance.randrange(1, 256)
        path.write_bytes(data)
        quick_check_alone += _quick_check_finds(path)
        outbox = make(path)
        await outbox.open()
        published = await read_all(outbox)
        incidents = outbox.damage.open_incidents()
        await outbox.close()
        rows = [r for r in published if r.topic != "base/bridge/loss"]
        if any(i.moved_to for i in incidents):
            outcome["at start"] += 1
        elif incidents:
            outcome["where read"] += 1
            assert all(r in stored for r in rows)  # what is published is intact
            assert len(rows) < len(published)  # and what is not is announced
        elif rows == stored:
            outcome["harmless"] += 1  # e.g. free space inside a page
        else:
            outcome["missed"] += 1
            log.error("trial %d: flip at offset %d changed rows without being found", trial, offset)
    log.warning("%d byte flips: %s; quick_check alone finds %d", TRIALS, outcome, quick_check_alone)
    assert outcome["missed"] == 0


def _quick_check_finds(path: Path) -> bool:
    """What the start check before this change caught."""
    try:
        db = sqlite3.connect(path)
        try:
            return bool(db.execute("PRAGMA quick_check").fetchone()[0] != "ok")
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return True


@pytest.mark.parametrize("cut", [4096, 100], ids=["whole-page", "mid-page"])
async def test_a_truncated_database_file_is_found(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "o.db"
    await fill(path)
    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size - cut)
    reasons, rows = await opened_damage(path)
    assert "truncated" in reasons[0] and rows == []
