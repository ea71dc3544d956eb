"""Damage to the outbox files, found before SQLite opens them, and what is done with a damaged outbox.

SQLite hides some damage on purpose: an empty file is a valid empty database, and a write-ahead log
(WAL) is replayed only up to its first frame that fails its checksum, the rest being ignored as if it
had never been written. After a crash or a disk fault both lose committed events without a word, so
the files are looked at first:

- the database file: empty, not an SQLite header, or shorter than its header says (truncated);
- the WAL: a header that is not one, a frame of the current generation (same salts as the header)
  that fails its checksum, or a partial frame at the end. Frames left over from before the last WAL
  reset carry older salts and are rightly ignored by SQLite: they are not damage.

Then ``PRAGMA quick_check`` (page structure) runs before READY. Row content is checked against the
per-row checksums after READY, by ``verify_backlog`` in pages between commits, and wherever rows are
read back for publishing: a full check costs about 5 s per million stored events (docs/operations.md),
too much to hold READY for, and a damaged row is set aside on its own, so nothing needs it first.

A damaged outbox is renamed aside with a UTC timestamp (database, WAL and shared-memory file together,
so the set can still be opened for analysis), a fresh one is started, and the incident is recorded
(``outbox_damage``) until an operator acknowledges it.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from passerelle.daemon.outbox_types import OutboxRow

log = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
WAL_MAGIC = (0x377F0682, 0x377F0683)  # low bit set: checksums over big-endian words
WAL_HEADER = 32
FRAME_HEADER = 24
VERIFY_PAGE = 2000  # rows checked per step: about 10 ms of the outbox thread between commits
COMPANIONS = ("-wal", "-shm")  # SQLite's files next to the database, moved with it


def inspect_files(path: Path) -> str | None:
    """Why the outbox files at ``path`` are damaged, or None when nothing is visibly wrong."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None  # a first start
    if size == 0:
        # Never a state this daemon leaves: the schema is written in the same step that creates it.
        return "the database file is empty (0 bytes): its content was lost (crash, full disk or truncation)"
    with path.open("rb") as fh:
        header = fh.read(100)
    try:
        wal = path.with_name(path.name + "-wal").read_bytes()
    except FileNotFoundError:
        wal = b""
    # With a WAL to replay, a database file shorter than its header says may only be a checkpoint
    # that a crash interrupted: the WAL still holds those pages.
    reason = _database_header_problem(header, size if not wal else None)
    return reason or wal_problem(wal)


def _database_header_problem(header: bytes, size: int | None) -> str | None:
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        return "the database file does not start with an SQLite header"
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"the database header gives an impossible page size ({page_size})"
    if size is None:
        return None
    if size % page_size:
        return (
            f"the database file is truncated ({size} bytes is not a whole number of {page_size}-byte pages)"
        )
    change_counter, pages, valid_for = (struct.unpack(">I", header[o : o + 4])[0] for o in (24, 28, 92))
    if valid_for == change_counter and size < pages * page_size:
        return f"the database file is truncated ({size // page_size} pages of the {pages} its header counts)"
    return None


def wal_problem(data: bytes) -> str | None:
    """Why SQLite would silently drop committed frames of this WAL, or None."""
    if not data:
        return None
    if len(data) < WAL_HEADER:
        return f"the WAL is truncated inside its header ({len(data)} bytes)"
    magic, version, page_size, _, salt1, salt2, sum1, sum2 = struct.unpack(">8I", data[:WAL_HEADER])
    if magic not in WAL_MAGIC or version != 3007000 or page_size < 512 or page_size & (page_size - 1):
        return "the WAL header is not valid: every transaction it holds would be ignored"
    order = ">" if magic & 1 else "<"
    sums = _checksum(order, data[:24], (0, 0))
    if sums != (sum1, sum2):
        return "the WAL header fails its checksum: every transaction it holds would be ignored"
    frame_size = FRAME_HEADER + page_size
    offset, frame = WAL_HEADER, 1
    while offset + frame_size <= len(data):
        head = struct.unpack(">6I", data[offset : offset + FRAME_HEADER])
        if (head[2], head[3]) != (salt1, salt2):
            return None  # older generation from here on: already checkpointed, ignored by design
        sums = _checksum(order, data[offset : offset + 8], sums)
        sums = _checksum(order, data[offset + FRAME_HEADER : offset + frame_size], sums)
        if sums != (head[4], head[5]):
            return f"WAL frame {frame} fails its checksum: the transactions from there on would be ignored"
        offset += frame_size
        frame += 1
    if offset < len(data):
        tail = data[offset : offset + FRAME_HEADER]
        if len(tail) < FRAME_HEADER or struct.unpack(">2I", tail[8:16]) == (salt1, salt2):
            return f"the WAL ends inside frame {frame} (truncated): its transaction would be ignored"
    return None


def _checksum(order: str, data: bytes, sums: tuple[int, int]) -> tuple[int, int]:
    """SQLite's WAL checksum (two running 32-bit sums over pairs of words)."""
    s0, s1 = sums
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def move_aside(path: Path, now: float | None = None) -> list[Path]:
    """Rename the database and its companions to ``<name>.damaged-<UTC time>[-wal|-shm]``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    suffix = 1
    while target.exists():  # two damages in the same second: never overwrite the first
        suffix += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{suffix}")
    moved = []
    for extra in ("", *COMPANIONS):
        source = path.with_name(path.name + extra)
        if source.exists():
            destination = target.with_name(target.name + extra)
            source.rename(destination)
            moved.append(destination)
    return moved


async def verify_backlog(
    read_page: Callable[[int, int], Awaitable[tuple[list[OutboxRow], list[OutboxRow]]]],
    set_aside: Callable[[list[OutboxRow]], Awaitable[None]],
    report: Callable[[str], Awaitable[None]],
) -> None:
    """Check every stored row's checksum once, oldest first, and set aside the damaged ones."""
    after = 0
    while True:
        try:
            intact, damaged = await read_page(after, VERIFY_PAGE)
        except sqlite3.DatabaseError as exc:  # a page quick_check passed but a read does not
            await report(f"reading the stored events after number {after} failed: {exc}")
            return
        if damaged:
            await set_aside(damaged)
        if len(intact) + len(damaged) < VERIFY_PAGE:
            return
        after = max(r.seq for r in intact + damaged)
