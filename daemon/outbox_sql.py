"""The outbox table and every statement run on it (always from the outbox's own thread).

Each row carries a CRC-32 of its content: SQLite has no page checksums, so a byte flipped on disk inside
a row (its payload, topic, number or time) would otherwise be published as if it were the event. The
check costs about a microsecond per row and is made where rows are read back from the database, so a
large backlog does not delay the start (see docs/operations.md for the measured costs).
"""

from __future__ import annotations

import contextlib
import sqlite3
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from passerelle.daemon.outbox_types import DroppedRows, LossEventFactory, OutboxRow

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL,
    crc INTEGER
);
"""
# OR REPLACE: a retried commit whose first attempt did reach the disk (an I/O error reported after
# the write) stores the same rows again instead of failing on their numbers for ever.
Page = tuple[list[OutboxRow], list[OutboxRow]]  # rows read back: intact, damaged
INSERT = (
    "INSERT OR REPLACE INTO outbox (seq, event_id, topic, payload, created_at, crc) VALUES (?, ?, ?, ?, ?, ?)"
)
LOSS_RESERVE = 1024  # bytes kept free for the loss event announcing a trim


@dataclass(frozen=True, slots=True)
class Trim:
    """Policy drop_oldest: delete the oldest rows until within bounds, announced by a loss event."""

    max_events: int
    max_bytes: int
    loss_seq: int  # number reserved for the loss event
    loss_event: LossEventFactory | None


@dataclass(frozen=True, slots=True)
class CommitResult:
    dropped: DroppedRows | None
    loss_row: OutboxRow | None
    oldest_created_at: float | None
    count: int  # table totals, only filled after a trim
    size: int


# Told of the numbers just inserted (first, last), inside the transaction: the journal copies them.
CopyHook = Callable[[sqlite3.Connection, int, int], None]


def commit(
    db: sqlite3.Connection,
    rows: list[OutboxRow],
    deletes: list[int],
    trim: Trim | None,
    copy: CopyHook | None = None,
) -> CommitResult:
    """One transaction: the new rows (and their copy), then the deletions (a row published, and
    acknowledged, before its own commit is deleted in the same transaction), then the trim."""
    dropped: DroppedRows | None = None
    loss_row: OutboxRow | None = None
    try:
        db.execute("BEGIN")
        if rows:
            db.executemany(INSERT, [row_values(r) for r in rows])
            if copy is not None:  # within SQLite, before the deletions below
                copy(db, rows[0].seq, rows[-1].seq)
        if deletes:
            db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in deletes])
        if trim is not None:
            dropped, loss_row = _trim(db, trim)
            if copy is not None and loss_row is not None:
                copy(db, loss_row.seq, loss_row.seq)
        db.execute("COMMIT")
    except BaseException:
        # SQLite has often rolled back already (it does on a full disk): a failed ROLLBACK here would
        # replace the error that says what happened.
        if db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        raise
    count, size = totals(db) if dropped is not None else (0, 0)
    return CommitResult(dropped, loss_row, oldest_created_at(db), count, size)


def checksum(seq: int, event_id: bytes, topic: bytes, payload: bytes, created_at: float) -> int:
    head = b"%d|%s|%s|" % (seq, event_id, topic) + struct.pack("<d", created_at)
    return zlib.crc32(payload, zlib.crc32(head))


def row_values(row: OutboxRow) -> tuple[int, str, str, bytes, float, int]:
    crc = checksum(row.seq, row.event_id.encode(), row.topic.encode(), row.payload, row.created_at)
    return row.seq, row.event_id, row.topic, row.payload, row.created_at, crc


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) in WAL mode with the current schema; raises sqlite3 errors as they are."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise sqlite3.OperationalError(f"cannot enable WAL (journal mode is {mode})")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(SCHEMA)
        columns = {name for _, name, *_ in db.execute("PRAGMA table_info(outbox)")}
        if "crc" not in columns:  # an outbox from before row checksums: its rows stay unchecked
            db.execute("ALTER TABLE outbox ADD COLUMN crc INTEGER")
    except BaseException:
        db.close()
        raise
    return db


def last_seq(db: sqlite3.Connection) -> int:
    """The highest number ever given: from sqlite_sequence, and from the rows themselves in case that
    bookkeeping row was damaged (reusing a number would make every later commit fail)."""
    recorded = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    highest = db.execute("SELECT MAX(seq) FROM outbox").fetchone()[0]
    return max(int(recorded[0]) if recorded else 0, int(highest or 0))


def oldest_created_at(db: sqlite3.Connection) -> float | None:
    oldest = db.execute("SELECT created_at FROM outbox ORDER BY seq LIMIT 1").fetchone()
    return float(oldest[0]) if oldest else None


def totals(db: sqlite3.Connection) -> tuple[int, int]:
    count, size = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload) + LENGTH(topic)), 0) FROM outbox"
    ).fetchone()
    return int(count), int(size)


def select(db: sqlite3.Connection, after_seq: int, below: int, limit: int) -> Page:
    """Rows in ``(after_seq, below)``, oldest first: those intact, and those whose content no longer
    matches its checksum. Text comes back as bytes so that a damaged row never raises a decode error."""
    cursor = db.execute(
        "SELECT seq, CAST(event_id AS BLOB), CAST(topic AS BLOB), CAST(payload AS BLOB), created_at, crc "
        "FROM outbox WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?",
        (after_seq, below, limit),
    )
    intact: list[OutboxRow] = []
    damaged: list[OutboxRow] = []
    for values in cursor:
        row = _checked(*values)
        if row is not None:
            intact.append(row)
        else:
            seq, event_id, topic, payload = values[:4]
            damaged.append(OutboxRow(seq, _text(event_id), _text(topic), _blob(payload), 0.0))
    return intact, damaged


def _checked(
    seq: int, event_id: object, topic: object, payload: object, created: object, crc: object
) -> OutboxRow | None:
    """The row if its stored content is what was written, else None (any type or value damage)."""
    if not (
        isinstance(event_id, bytes)
        and isinstance(topic, bytes)
        and isinstance(payload, bytes)
        and isinstance(created, float)
    ):
        return None
    if crc is not None and crc != checksum(seq, event_id, topic, payload, created):
        return None
    try:
        return OutboxRow(seq, event_id.decode(), topic.decode(), payload, created)
    except UnicodeDecodeError:
        return None


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else ""


def _blob(value: object) -> bytes:
    return value if isinstance(value, bytes) else b""


def _trim(db: sqlite3.Connection, trim: Trim) -> tuple[DroppedRows | None, OutboxRow | None]:
    """Delete the oldest rows until the table (plus one loss event) is within bounds."""
    count, size = totals(db)
    victims: list[tuple[int, object, int]] = []
    cursor = db.execute(
        "SELECT seq, CAST(event_id AS BLOB), COALESCE(LENGTH(payload), 0) + COALESCE(LENGTH(topic), 0) "
        "FROM outbox ORDER BY seq"
    )
    while count + 1 > trim.max_events or size + LOSS_RESERVE > trim.max_bytes:
        found = cursor.fetchone()
        if found is None:
            break
        victims.append(found)
        count -= 1
        size -= found[2]
    cursor.close()
    if not victims:
        return None, None
    db.execute("DELETE FROM outbox WHERE seq <= ?", (victims[-1][0],))
    dropped = DroppedRows(
        victims[-1][0],
        len(victims),
        sum(v[2] for v in victims),
        _text(victims[0][1]),
        _text(victims[-1][1]),
    )
    if trim.loss_event is None:
        return dropped, None
    topic, event_id, payload = trim.loss_event(dropped)
    row = OutboxRow(trim.loss_seq, str(event_id), topic, payload, time.time())
    db.execute(INSERT, row_values(row))
    return dropped, row
