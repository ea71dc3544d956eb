"""Durable outbox: every event is on disk before its driver is acknowledged, and leaves only after the
broker's PUBACK.

One SQLite database (WAL, synchronous=FULL: workstations get unplugged) owned by one thread; the event
loop never blocks on disk. Appends that arrive while a commit is running are committed together (group
commit). Deletions after PUBACK ride along with later transactions.

The publisher reads recent rows from memory (a window of the last rows submitted), so the live path
never waits for a database read; rows older than the window, and everything after a restart, come from
the database. A row may be published while its commit is still running: what counts is that a driver
is acknowledged only after the commit, and that a row leaves the database only after its PUBACK.

Bounded by count and bytes; when full, the configured policy applies and it is always said: a refused
append raises OutboxFullError to its driver, a dropped batch leaves a loss event.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar
from uuid import UUID

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL
);
"""
MAX_GROUP = 2000  # rows per transaction: bounds commit latency under a burst
MEMORY_WINDOW = 4096  # recent rows the publisher reads from memory; older ones from the database
DELETE_DELAY = 0.1  # seconds a published row may wait for its deletion to be committed


class OutboxError(Exception):
    """The database cannot be used (corrupt, unwritable, wrong file): reported clearly at start."""


class OutboxFullError(Exception):
    """The outbox is at its bound and the policy is to refuse new events."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    event_id: str
    topic: str
    payload: bytes
    created_at: float


@dataclass(slots=True)
class _Append:
    row: OutboxRow
    done: asyncio.Future[int]

    @property
    def size(self) -> int:
        return len(self.row.payload) + len(self.row.topic)


@dataclass(slots=True)
class _Batch:
    appends: list[_Append] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)
    trim: bool = False  # drop the oldest rows until within bounds (policy drop_oldest)
    loss_seq: int = 0  # number reserved for the loss event announcing a trim


@dataclass(frozen=True, slots=True)
class _CommitResult:
    dropped: DroppedRows | None
    loss_row: OutboxRow | None
    oldest_created_at: float | None
    count: int  # table totals, only filled after a trim
    size: int


@dataclass(frozen=True, slots=True)
class DroppedRows:
    last_seq: int
    count: int
    size: int
    first_event_id: str | None
    last_event_id: str | None


# Builds the loss event row (topic, event id, payload) announcing a drop; supplied by the core.
LossEventFactory = Callable[[DroppedRows], tuple[str, UUID, bytes]]


class Outbox:
    def __init__(
        self,
        path: Path,
        *,
        max_events: int,
        max_bytes: int,
        when_full: Literal["refuse", "drop_oldest"],
        loss_event: LossEventFactory | None = None,
    ) -> None:
        self.path = path
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.when_full = when_full
        self._loss_event = loss_event
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._db: sqlite3.Connection | None = None
        self._batch = _Batch()
        self._wakeup = asyncio.Event()
        self._appended = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._deleting: set[int] = set()
        self._trimmed_upto = 0
        self._closing = False
        self._lock_fd: int | None = None
        # Rows by sequence number, in submission order: the last ones submitted and not yet published.
        # Every row below the window's first key that still exists is committed.
        self._recent: dict[int, OutboxRow] = {}
        self._next_seq = 1
        self._committed_upto = 0
        self._late: list[OutboxRow] = []  # committed rows numbered below what was already read
        self._delete_timer: asyncio.TimerHandle | None = None
        # Counts include appends not yet committed, so the bound holds for what is accepted.
        self.count = 0
        self.size = 0
        self.oldest_created_at: float | None = None
        self.full = False
        self.refused_total = 0
        self.dropped_total = 0
        self.commits_total = 0
        self.last_commit_seconds = 0.0
        self.on_full: Callable[[bool], None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> None:
        await self._run(self._open_db)
        self._writer = asyncio.create_task(self._write_loop(), name="outbox-writer")

    def _lock(self) -> None:
        """One daemon per outbox: a second one would publish every event twice."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutboxError(f"outbox {self.path} is in use by another passerelle process") from None
        self._lock_fd = fd

    def _open_db(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock()
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise OutboxError(f"outbox {self.path}: cannot enable WAL (journal mode is {mode})")
            db.execute("PRAGMA synchronous=FULL")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise OutboxError(f"outbox {self.path} is corrupt ({check}); move it aside to start empty")
            db.executescript(SCHEMA)
            count, size = self._totals(db)
            oldest = self._oldest_created_at(db)
            last = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
            db.execute("BEGIN IMMEDIATE")  # proves we can write (read-only file or directory fails here)
            db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise OutboxError(f"outbox {self.path} cannot be used: {exc}") from exc
        except OSError as exc:
            raise OutboxError(f"outbox {self.path} cannot be used: {exc.strerror or exc}") from exc
        self._db = db
        # Numbers are ours to give (one writer): a row is known, and publishable, before its commit.
        self._next_seq = (int(last[0]) if last else 0) + 1
        self._committed_upto = self._next_seq - 1
        self.count, self.size = count, size
        self.oldest_created_at = oldest
        if self.count:
            log.info("outbox holds %d events from a previous run; they will be published first", self.count)

    async def close(self) -> None:
        """Commit what is pending, then close. Safe to call twice."""
        if self._writer is not None:
            self._closing = True
            if self._delete_timer is not None:
                self._delete_timer.cancel()
                self._delete_timer = None
            self._wakeup.set()
            await self._writer  # it flushes what is pending, then returns
            self._writer = None
        if self._db is not None:
            db, self._db = self._db, None
            await self._run(db.close)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None
        self._executor.shutdown(wait=True)

    # -- writing ---------------------------------------------------------------------------------

    def submit(self, event_id: UUID | str, topic: str, payload: bytes) -> asyncio.Future[int]:
        """Queue an event; the future completes (with its sequence number) once it is committed."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if not self._make_room(len(payload) + len(topic)):
            self.refused_total += 1
            done.set_exception(
                OutboxFullError(f"outbox full ({self.count} events, {self.size} bytes): event refused")
            )
            return done
        row = OutboxRow(self._next_seq, str(event_id), topic, payload, time.time())
        self._next_seq += 1
        item = _Append(row, done)
        self.count += 1
        self.size += item.size
        self._batch.appends.append(item)
        self._recent[row.seq] = row
        self._wakeup.set()
        self._appended.set()
        return done

    async def append(self, event_id: UUID | str, topic: str, payload: bytes) -> int:
        return await self.submit(event_id, topic, payload)

    def delete(self, seq: int, size: int) -> None:
        """Forget a published row (after PUBACK). Committed with the next group."""
        if seq in self._deleting or seq <= self._trimmed_upto:
            return  # already going, or already removed by a drop_oldest trim
        self._deleting.add(seq)
        self._recent.pop(seq, None)
        self._batch.deletes.append(seq)
        self.count -= 1
        self.size -= size
        self._set_full(self._over(0))
        # A deletion need not be durable at once (forgetting one only means publishing it twice after
        # a crash): ride along with the next append, or commit after a short delay, never one by one.
        if self._delete_timer is None:
            self._delete_timer = asyncio.get_running_loop().call_later(DELETE_DELAY, self._flush_deletes)

    def _flush_deletes(self) -> None:
        self._delete_timer = None
        self._wakeup.set()

    def _over(self, extra_size: int) -> bool:
        return self.count + 1 > self.max_events or self.size + extra_size > self.max_bytes

    def _make_room(self, size: int) -> bool:
        if not self._over(size):
            return True
        self._set_full(True)
        if self.when_full == "refuse":
            return False
        # drop_oldest: the writer trims the oldest rows and records a loss event in the same commit.
        self._batch.trim = True
        if not self._batch.loss_seq:
            self._batch.loss_seq = self._next_seq
            self._next_seq += 1
        return True

    def _set_full(self, full: bool) -> None:
        if full != self.full:
            self.full = full
            if full:
                log.error(
                    "outbox full (%d events, %d bytes); policy: %s", self.count, self.size, self.when_full
                )
            else:
                log.warning("outbox below its bound again (%d events)", self.count)
            if self.on_full is not None:
                self.on_full(full)

    async def _write_loop(self) -> None:
        while not self._closing:
            await self._wakeup.wait()
            self._wakeup.clear()
            await self._flush()

    async def _flush(self) -> None:
        while self._batch.appends or self._batch.deletes or self._batch.trim:
            batch = self._batch
            if len(batch.appends) > MAX_GROUP:
                self._batch = _Batch(
                    appends=batch.appends[MAX_GROUP:], trim=batch.trim, loss_seq=batch.loss_seq
                )
                batch.appends = batch.appends[:MAX_GROUP]
            else:
                self._batch = _Batch()
            started = time.perf_counter()
            try:
                result = await self._run(functools.partial(self._commit, batch))
            except Exception as exc:
                log.exception("outbox commit failed")
                for item in batch.appends:
                    self.count -= 1
                    self.size -= item.size
                    self._recent.pop(item.row.seq, None)
                    if not item.done.done():
                        item.done.set_exception(OutboxError(f"outbox commit failed: {exc}"))
                continue
            self.last_commit_seconds = time.perf_counter() - started
            self.commits_total += 1
            self._deleting.difference_update(batch.deletes)
            if batch.appends:
                self._committed_upto = batch.appends[-1].row.seq
            self._shrink_window()
            self.oldest_created_at = result.oldest_created_at
            if result.dropped is not None:
                self.dropped_total += result.dropped.count
                self._trimmed_upto = max(self._trimmed_upto, result.dropped.last_seq)
                for seq in [s for s in self._recent if s <= self._trimmed_upto]:
                    del self._recent[seq]
                log.error(
                    "outbox full: dropped the %d oldest events (policy drop_oldest)", result.dropped.count
                )
                # Resynchronise the accounting with the database, plus what is queued since.
                self.count = result.count + len(self._batch.appends)
                self.size = result.size + sum(a.size for a in self._batch.appends)
                self._set_full(self._over(0))
            if result.loss_row is not None:
                # Numbered before rows the publisher may already have read: hand it over explicitly.
                self._late.append(result.loss_row)
                self._recent[result.loss_row.seq] = result.loss_row
                self._appended.set()
            for item in batch.appends:
                if not item.done.done():
                    item.done.set_result(item.row.seq)

    def _shrink_window(self) -> None:
        """Forget the oldest committed rows beyond the window: the database has them."""
        while len(self._recent) > MEMORY_WINDOW:
            first = next(iter(self._recent))
            if first > self._committed_upto:
                return
            del self._recent[first]

    def _commit(self, batch: _Batch) -> _CommitResult:
        db = self._db
        assert db is not None
        dropped: DroppedRows | None = None
        loss_row: OutboxRow | None = None
        db.execute("BEGIN")
        try:
            if batch.appends:
                db.executemany(
                    "INSERT INTO outbox (seq, event_id, topic, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                    [
                        (r.seq, r.event_id, r.topic, r.payload, r.created_at)
                        for r in (a.row for a in batch.appends)
                    ],
                )
            # After the inserts: a row published (and acknowledged) before its own commit is deleted
            # in the same transaction.
            if batch.deletes:
                db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in batch.deletes])
            if batch.trim:
                dropped, loss_row = self._trim(db, batch.loss_seq)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        count, size = (0, 0)
        if dropped is not None:
            count, size = self._totals(db)
        return _CommitResult(dropped, loss_row, self._oldest_created_at(db), count, size)

    @staticmethod
    def _oldest_created_at(db: sqlite3.Connection) -> float | None:
        oldest = db.execute("SELECT created_at FROM outbox ORDER BY seq LIMIT 1").fetchone()
        return float(oldest[0]) if oldest else None

    @staticmethod
    def _totals(db: sqlite3.Connection) -> tuple[int, int]:
        count, size = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload) + LENGTH(topic)), 0) FROM outbox"
        ).fetchone()
        return int(count), int(size)

    def _trim(self, db: sqlite3.Connection, loss_seq: int) -> tuple[DroppedRows | None, OutboxRow | None]:
        """Delete the oldest rows until the table (plus one loss event) is within bounds."""
        count, size = self._totals(db)
        victims: list[tuple[int, str, int]] = []
        cursor = db.execute("SELECT seq, event_id, LENGTH(payload) + LENGTH(topic) FROM outbox ORDER BY seq")
        reserve = 1024  # room for the loss event itself
        while count + 1 > self.max_events or size + reserve > self.max_bytes:
            row = cursor.fetchone()
            if row is None:
                break
            victims.append(row)
            count -= 1
            size -= row[2]
        cursor.close()
        if not victims:
            return None, None
        db.execute("DELETE FROM outbox WHERE seq <= ?", (victims[-1][0],))
        dropped = DroppedRows(
            victims[-1][0], len(victims), sum(v[2] for v in victims), victims[0][1], victims[-1][1]
        )
        if self._loss_event is None:
            return dropped, None
        topic, event_id, payload = self._loss_event(dropped)
        row = OutboxRow(loss_seq, str(event_id), topic, payload, time.time())
        db.execute(
            "INSERT INTO outbox (seq, event_id, topic, payload, created_at) VALUES (?, ?, ?, ?, ?)",
            (row.seq, row.event_id, row.topic, row.payload, row.created_at),
        )
        return dropped, row

    # -- reading (the publisher) -----------------------------------------------------------------

    async def fetch(self, after_seq: int, limit: int) -> list[OutboxRow]:
        """Rows after ``after_seq``, oldest first, not published yet: from the database below the
        memory window, then from the window (which may hold rows whose commit is still running)."""
        # Late rows beyond ``after_seq`` come in their place below; only those already passed need this.
        rows = [r for r in self._late if r.seq <= after_seq and r.seq not in self._deleting]
        self._late = []
        # Again while a commit, during the read, pushed more rows out of the window into the database.
        while after_seq + 1 < (floor := next(iter(self._recent), self._next_seq)):
            stored = await self._run(functools.partial(self._select, after_seq, floor, limit))
            rows += [r for r in stored if r.seq not in self._deleting]
            if len(stored) >= limit:
                return rows
            after_seq = floor - 1
        seq, end = after_seq + 1, self._next_seq
        while seq < end and len(rows) < limit:
            row = self._recent.get(seq)
            if row is not None:
                rows.append(row)
            seq += 1
        return rows

    def _select(self, after_seq: int, below: int, limit: int) -> list[OutboxRow]:
        db = self._db
        assert db is not None
        cursor = db.execute(
            "SELECT seq, event_id, topic, payload, created_at FROM outbox WHERE seq > ? AND seq < ? "
            "ORDER BY seq LIMIT ?",
            (after_seq, below, limit),
        )
        return [
            OutboxRow(seq, eid, topic, bytes(payload), created)
            for seq, eid, topic, payload, created in cursor
        ]

    async def wait_for_rows(self) -> None:
        """Returns after the next commit that may have added rows."""
        await self._appended.wait()

    def clear_new_rows_flag(self) -> None:
        self._appended.clear()

    def notify_rows(self) -> None:
        """Wake a ``wait_for_rows`` caller so that it looks again (e.g. to notice its own error)."""
        self._appended.set()

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
