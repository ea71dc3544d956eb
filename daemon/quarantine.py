"""The outbox quarantine: events the broker keeps refusing, set aside so that the rest flows.

A table in the outbox database itself, so that moving a row there is one transaction (it is in the
quarantine or in the outbox, never in neither). It is reached through its own SQLite connection and
thread: the outbox's writer keeps its group commits to itself, and SQLite serialises the two writers
(a quarantine move is rare; it waits at most for one group commit).

Quarantined events are kept until an operator retries them (they go back to the end of the outbox,
same event id and payload) or discards them; ``passerelle outbox`` and the ``outbox`` bridge request
do both.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from passerelle.daemon.outbox import Outbox, OutboxError, OutboxRow
from passerelle.daemon.signals import Signal

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL,
    quarantined_at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT NOT NULL
);
"""
BUSY_TIMEOUT = 30.0  # seconds to wait for the outbox writer's transaction to end
COLUMNS = "seq, event_id, topic, LENGTH(payload), created_at, quarantined_at, attempts, reason"

# Which quarantined events an action applies to: every one, or these sequence numbers.
Selection = Literal["all"] | Sequence[int]


@dataclass(frozen=True, slots=True)
class QuarantinedEvent:
    """What operators see of a quarantined event: never its payload (it may hold patient data)."""

    seq: int
    event_id: str
    topic: str
    size: int
    created_at: float
    quarantined_at: float
    attempts: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT, check_same_thread=False)
    db.executescript(SCHEMA)
    return db


def _where(selection: Selection) -> tuple[str, list[int]]:
    if selection == "all":
        return "", []
    seqs = [int(s) for s in selection]
    return f" WHERE seq IN ({', '.join('?' * len(seqs))})", seqs


def _transaction(db: sqlite3.Connection, work: Callable[[], T]) -> T:
    db.execute("BEGIN IMMEDIATE")
    try:
        result = work()
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return result


def list_events(db: sqlite3.Connection, limit: int | None = None) -> list[QuarantinedEvent]:
    sql = f"SELECT {COLUMNS} FROM quarantine ORDER BY seq" + (" LIMIT ?" if limit is not None else "")
    return [QuarantinedEvent(*row) for row in db.execute(sql, () if limit is None else (limit,))]


def summary(db: sqlite3.Connection) -> tuple[int, str | None]:
    """How many events are quarantined, and why the latest one was."""
    (count,) = db.execute("SELECT COUNT(*) FROM quarantine").fetchone()
    latest = db.execute("SELECT reason FROM quarantine ORDER BY quarantined_at DESC LIMIT 1").fetchone()
    return int(count), latest[0] if latest else None


def move(db: sqlite3.Connection, row: OutboxRow, attempts: int, reason: str) -> None:
    def work() -> None:
        db.execute(
            "INSERT OR REPLACE INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (row.seq, row.event_id, row.topic, row.payload, row.created_at, time.time(), attempts, reason),
        )
        db.execute("DELETE FROM outbox WHERE seq = ?", (row.seq,))

    _transaction(db, work)


def discard(db: sqlite3.Connection, selection: Selection) -> list[int]:
    def work() -> list[int]:
        where, args = _where(selection)
        gone = [int(seq) for (seq,) in db.execute(f"SELECT seq FROM quarantine{where}", args)]
        db.execute(f"DELETE FROM quarantine{where}", args)
        return gone

    return _transaction(db, work)


def requeue(db: sqlite3.Connection, selection: Selection) -> list[int]:
    """Back to the end of the outbox, in one transaction. Only while no daemon holds the outbox: a
    running daemon numbers its rows itself (see ``QuarantineStore.retry``)."""

    def work() -> list[int]:
        where, args = _where(selection)
        seqs = [int(seq) for (seq,) in db.execute(f"SELECT seq FROM quarantine{where} ORDER BY seq", args)]
        db.execute(
            "INSERT INTO outbox (event_id, topic, payload, created_at) "
            f"SELECT event_id, topic, payload, created_at FROM quarantine{where} ORDER BY seq",
            args,
        )
        db.execute(f"DELETE FROM quarantine{where}", args)
        return seqs

    return _transaction(db, work)


class QuarantineStore:
    """The daemon's side: the same operations off the event loop, plus the figures health shows."""

    def __init__(self, path: Path, outbox: Outbox) -> None:
        self.path = path
        self.outbox = outbox
        self.changed: Signal[[]] = Signal("quarantine.changed")  # it grew or shrank: health changes
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quarantine")
        self._db: sqlite3.Connection | None = None
        self.count = 0
        self.last_reason: str | None = None
        self.quarantined_total = 0  # set aside since the daemon started

    async def open(self) -> None:
        """After the outbox opened (it owns the lock and the file)."""
        try:
            self._db = await self._run(functools.partial(connect, self.path))
            self.count, self.last_reason = await self._run(functools.partial(summary, self._db))
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.path}: its quarantine cannot be used: {exc}") from exc
        if self.count:
            log.warning("%d events are in the outbox quarantine (passerelle outbox list)", self.count)

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await self._run(db.close)
        self._executor.shutdown(wait=True)

    async def set_aside(self, row: OutboxRow, attempts: int, reason: str) -> None:
        """Move a row the broker will not take from the outbox to the quarantine."""
        await self._run(functools.partial(move, self._connection(), row, attempts, reason))
        # The outbox's own accounting; its delete also covers a row whose commit was still pending.
        self.outbox.delete(row.seq, row.size)
        self.count += 1
        self.quarantined_total += 1
        self.last_reason = reason
        self.changed.emit()
        log.error(
            "event %s (seq %d, topic %s) set aside in the outbox quarantine after %d tries: %s",
            row.event_id,
            row.seq,
            row.topic,
            attempts,
            reason,
        )

    async def events(self, limit: int | None = None) -> list[QuarantinedEvent]:
        return await self._run(functools.partial(list_events, self._connection(), limit))

    async def discard(self, selection: Selection) -> list[int]:
        gone = await self._run(functools.partial(discard, self._connection(), selection))
        await self._refresh()
        if gone:
            log.warning("discarded %d quarantined events: %s", len(gone), gone)
        return gone

    async def retry(self, selection: Selection) -> tuple[list[int], str | None]:
        """Hand the events back to the outbox (committed), then forget them here. Returns the sequence
        numbers handed back and, when some could not be (outbox full…), why.

        Two transactions: a crash between them leaves an event in both places, sent once more on a
        later retry; consumers dedupe on event ids. Never in neither."""
        db = self._connection()
        where, args = _where(selection)
        rows = await self._run(
            lambda: db.execute(
                f"SELECT seq, event_id, topic, payload FROM quarantine{where} ORDER BY seq", args
            ).fetchall()
        )
        submitted = [(seq, self.outbox.submit(eid, topic, bytes(blob))) for seq, eid, topic, blob in rows]
        await asyncio.gather(*(done for _, done in submitted), return_exceptions=True)
        back = [seq for seq, done in submitted if done.exception() is None]
        if back:
            await self._run(functools.partial(discard, db, back))
            log.warning("%d quarantined events handed back to the outbox: %s", len(back), back)
        await self._refresh()
        errors = [str(done.exception()) for _, done in submitted if done.exception() is not None]
        return back, errors[0] if errors else None

    @property
    def problem(self) -> str | None:
        """What health says while the quarantine holds events."""
        if not self.count:
            return None
        return f"{self.count} events quarantined (see passerelle outbox list); latest: {self.last_reason}"

    async def _refresh(self) -> None:
        self.count, self.last_reason = await self._run(functools.partial(summary, self._connection()))
        self.changed.emit()

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the quarantine is not open")
        return self._db

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
