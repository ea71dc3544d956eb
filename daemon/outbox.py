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

A commit the disk refuses is retried until it succeeds (``outbox_disk``); a damaged outbox is moved
aside at start (``outbox_integrity``), a damaged row is set aside, both recorded (``outbox_damage``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar
from uuid import UUID

from passerelle.daemon import outbox_sql as sql
from passerelle.daemon.outbox_batch import Append, Batch
from passerelle.daemon.outbox_cursor import OutboxReader
from passerelle.daemon.outbox_damage import DamageRecord
from passerelle.daemon.outbox_disk import UNSTORED_LIMIT, WriteTrouble
from passerelle.daemon.outbox_integrity import verify_backlog
from passerelle.daemon.outbox_open import open_outbox
from passerelle.daemon.outbox_types import (
    DroppedRows,
    LossEventFactory,
    OutboxError,
    OutboxFullError,
    OutboxRow,
    damaged_rows,
)
from passerelle.daemon.signals import Signal

if TYPE_CHECKING:
    from passerelle.daemon.journal import Journal

log = logging.getLogger(__name__)
T = TypeVar("T")
__all__ = ["DroppedRows", "Outbox", "OutboxError", "OutboxFullError", "OutboxRow"]  # others import them here

MAX_GROUP = 2000  # rows per transaction: bounds commit latency under a burst
MEMORY_WINDOW = 4096  # recent rows the publisher reads from memory; older ones from the database
DELETE_DELAY = 0.1  # seconds a published row may wait for its deletion to be committed


class Outbox:
    def __init__(
        self,
        path: Path,
        *,
        max_events: int,
        max_bytes: int,
        when_full: Literal["refuse", "drop_oldest"],
        loss_event: LossEventFactory | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.path = path
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.when_full = when_full
        self._loss_event = loss_event
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._db: sqlite3.Connection | None = None
        self._batch = Batch()
        self._wakeup = asyncio.Event()
        self.rows_added = asyncio.Event()  # set on every append and on a loss row handed over late
        self._writer: asyncio.Task[None] | None = None
        self.verification: asyncio.Task[None] | None = None  # the backlog's checksum pass
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
        self.full_changed: Signal[[bool]] = Signal("outbox.full_changed")
        self.writes = WriteTrouble(path.parent)
        self.damage = DamageRecord(path)
        self._uncommitted = 0  # appends accepted, not yet on disk
        self.trouble_changed: Signal[[]] = Signal("outbox.trouble_changed")  # write failure, damage
        # Optional journal (daemon/journal.py) written in the same transactions, and a signal with
        # every committed row (the browser fan-out).
        self.journal = journal
        self.rows_committed: Signal[[list[OutboxRow]]] = Signal("outbox.rows_committed")

    # -- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> None:
        await self._run(self._open_db)
        self._writer = asyncio.create_task(self._write_loop(), name="outbox-writer")
        # Row checksums of the backlog are checked after READY, not before: see outbox_integrity.
        read = functools.partial(self._run_select, below=self._next_seq)
        verify = verify_backlog(read, self._set_aside, self._report_damage)
        self.verification = asyncio.create_task(verify, name="outbox-verify")

    def _open_db(self) -> None:
        opened = open_outbox(self.path, self.damage)
        self._db, self._lock_fd = opened.db, opened.lock_fd
        if self.journal is not None:
            self.journal.setup(opened.db)
        # Numbers are ours to give (one writer): a row is known, and publishable, before its commit.
        self._next_seq = opened.last_seq + 1
        self._committed_upto = opened.last_seq
        self.count, self.size = opened.count, opened.size
        self.oldest_created_at = opened.oldest_created_at
        if self.count:
            log.info("outbox holds %d events from a previous run; they will be published first", self.count)

    async def close(self) -> None:
        """Commit what is pending, then close. Safe to call twice."""
        if self.verification is not None:
            self.verification.cancel()
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
        if self.writes.failing and self._uncommitted >= UNSTORED_LIMIT:
            done.set_exception(self.writes.refuse(str(event_id), len(payload) + len(topic)))
            return done
        if not self._make_room(len(payload) + len(topic)):
            self.refused_total += 1
            done.set_exception(
                OutboxFullError(f"outbox full ({self.count} events, {self.size} bytes): event refused")
            )
            return done
        return self._enqueue(OutboxRow(self._next_seq, str(event_id), topic, payload, time.time()), done)

    def _enqueue(self, row: OutboxRow, done: asyncio.Future[int]) -> asyncio.Future[int]:
        self._next_seq = max(self._next_seq, row.seq + 1)
        self._uncommitted += 1
        item = Append(row, done)
        self.count += 1
        self.size += item.size
        self._batch.appends.append(item)
        self._recent[row.seq] = row
        self._wakeup.set()
        self.rows_added.set()
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
        self.size = max(0, self.size - size)  # a damaged row's stored size may differ from its sum
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
            self.full_changed.emit(full)

    async def _write_loop(self) -> None:
        while not self._closing:
            await self._wakeup.wait()
            self._wakeup.clear()
            await self._flush()

    async def _flush(self) -> None:
        while self._batch.appends or self._batch.deletes or self._batch.trim:
            batch, self._batch = self._batch.split(MAX_GROUP)
            started = time.perf_counter()
            try:
                result = await self._run(functools.partial(self._commit, batch))
            except Exception as exc:  # the disk refused (full, read-only, I/O): keep the batch, retry
                if not await self._commit_failed(batch, exc):
                    return
                continue
            if self.writes.recovered():
                self._announce_unstored()
                self._trouble_changed()
            self._uncommitted -= len(batch.appends)
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
                self.rows_added.set()
            if self.rows_committed:
                committed = [a.row for a in batch.appends]
                self.rows_committed.emit([*committed, result.loss_row] if result.loss_row else committed)
            for item in batch.appends:
                if not item.done.done():
                    item.done.set_result(item.row.seq)

    async def _commit_failed(self, batch: Batch, error: Exception) -> bool:
        """Queue the batch again in front of newer work and wait before the retry; False when closing
        (the events still in memory are then reported as not stored)."""
        was_failing = self.writes.failing
        delay = await self._run(functools.partial(self.writes.failed, error))  # probes the disk
        self._batch = batch.then(self._batch)
        if not was_failing:
            self._trouble_changed()
        if self._closing:
            appends, self._batch = self._batch.appends, Batch()
            self.writes.abandon([a.done for a in appends])
            return False
        await asyncio.sleep(delay)
        return True

    def _announce_unstored(self) -> None:
        """Events refused while the disk refused writes: one loss event, now that it can be stored."""
        if (unstored := self.writes.take_unstored()) is not None:
            self._add_loss(unstored.as_dropped(self._next_seq))

    def _add_loss(self, dropped: DroppedRows) -> None:
        if self._loss_event is None:
            return  # only in tests of the outbox alone; the daemon always announces losses
        topic, event_id, payload = self._loss_event(dropped)
        row = OutboxRow(self._next_seq, str(event_id), topic, payload, time.time())
        self._enqueue(row, asyncio.get_running_loop().create_future())

    async def acknowledge_damage(self) -> int:
        """An operator saw the damage incidents: health stops reporting them. Returns how many."""
        count = await self._run(self.damage.acknowledge)
        self._trouble_changed()
        return count

    def _trouble_changed(self) -> None:
        self.trouble_changed.emit()

    def _shrink_window(self) -> None:
        """Forget the oldest committed rows beyond the window: the database has them."""
        while len(self._recent) > MEMORY_WINDOW:
            first = next(iter(self._recent))
            if first > self._committed_upto:
                return
            del self._recent[first]

    def _commit(self, batch: Batch) -> sql.CommitResult:
        assert self._db is not None
        trim = None
        if batch.trim:
            trim = sql.Trim(self.max_events, self.max_bytes, batch.loss_seq, self._loss_event)
        copy = self.journal.record if self.journal is not None else None
        return sql.commit(self._db, [a.row for a in batch.appends], batch.deletes, trim, copy)

    # -- reading (the publisher) -----------------------------------------------------------------

    async def fetch(self, after_seq: int, limit: int) -> list[OutboxRow]:
        """Rows after ``after_seq``, oldest first, not published yet: from the database below the
        memory window, then from the window (which may hold rows whose commit is still running)."""
        # Late rows beyond ``after_seq`` come in their place below; only those already passed need this.
        rows = [r for r in self._late if r.seq <= after_seq and r.seq not in self._deleting]
        self._late = []
        # Again while a commit, during the read, pushed more rows out of the window into the database.
        while after_seq + 1 < (floor := next(iter(self._recent), self._next_seq)):
            intact, damaged = await self._run_select(after_seq, limit, below=floor)
            if damaged:
                await self._set_aside(damaged)
            rows += [r for r in intact if r.seq not in self._deleting]
            if len(intact) + len(damaged) < limit:
                after_seq = floor - 1
            elif rows:
                return rows
            else:  # a whole page already going or set aside: look further rather than wait
                after_seq = max(r.seq for r in intact + damaged)
        seq, end = after_seq + 1, self._next_seq
        while seq < end and len(rows) < limit:
            row = self._recent.get(seq)
            if row is not None:
                rows.append(row)
            seq += 1
        return rows

    def _select(self, after_seq: int, below: int, limit: int) -> tuple[list[OutboxRow], list[OutboxRow]]:
        assert self._db is not None
        return sql.select(self._db, after_seq, below, limit)

    async def _run_select(self, after_seq: int, limit: int, *, below: int) -> sql.Page:
        return await self._run(functools.partial(self._select, after_seq, below, limit))

    async def _set_aside(self, damaged: list[OutboxRow]) -> None:
        """Stored rows whose content changed on disk: never published as if intact. They are deleted,
        announced by a loss event and recorded as damage until an operator acknowledges it."""
        damaged = [r for r in damaged if r.seq not in self._deleting]  # the other reader's already
        if not damaged:
            return
        for row in damaged:
            self.delete(row.seq, row.size)
        loss = damaged_rows(damaged)
        self._add_loss(loss)
        await self._report_damage(f"{loss.reason}: set aside, see bridge/loss")

    async def _report_damage(self, reason: str) -> None:
        await self._run(functools.partial(self.damage.add, reason))
        self._trouble_changed()

    def cursor(self) -> OutboxReader:
        """The publisher's reader for one broker session: every unsent row, oldest first."""
        return OutboxReader(self)

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
