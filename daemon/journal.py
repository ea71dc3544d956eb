"""The journal: events kept replayable for browser clients (``since=<event_id>``) after their PUBACK.

It is one more table in the outbox database, written in the outbox's own transactions by the outbox's
writer thread (so an event is in the journal exactly when it is committed, and no second store can
disagree), and pruned by that same writer: by count at every commit that goes over the bound, by age at
most once per ``AGE_PRUNE_INTERVAL``. Replays read through their own SQLite connection (WAL lets them
run beside the writer), so a long replay never delays a commit.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

from passerelle.daemon.outbox_types import OutboxRow

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL
);
"""
AGE_PRUNE_INTERVAL = 60.0
COUNT_SLACK = 256  # prune by count in steps, not one row per commit


class Journal:
    def __init__(self, path: Path, *, max_events: int, max_age_seconds: float) -> None:
        self.path = path
        self.max_events = max_events
        self.max_age_seconds = max_age_seconds
        self.count = 0
        self.pruned_total = 0
        self._next_age_prune = 0.0

    # -- the writer's side (called by the outbox in its thread, inside its transactions) ----------

    def setup(self, db: sqlite3.Connection) -> None:
        db.executescript(SCHEMA)
        self.count = int(db.execute("SELECT COUNT(*) FROM journal").fetchone()[0])

    def record(self, db: sqlite3.Connection, first_seq: int, last_seq: int) -> None:
        """Copy the outbox rows just inserted (``first_seq`` to ``last_seq``) into the journal, in one
        statement inside SQLite: no payload goes back through Python."""
        copied = db.execute(
            "INSERT OR IGNORE INTO journal (seq, event_id, topic, payload, created_at) "
            "SELECT seq, event_id, topic, payload, created_at FROM outbox WHERE seq BETWEEN ? AND ?",
            (first_seq, last_seq),
        ).rowcount
        self.count += max(copied, 0)
        if self.count > self.max_events + COUNT_SLACK:
            self._prune_count(db)
        now = time.monotonic()
        if now >= self._next_age_prune:
            self._next_age_prune = now + AGE_PRUNE_INTERVAL
            self._prune_age(db)

    def _prune_count(self, db: sqlite3.Connection) -> None:
        # Counted again here: a rolled-back commit (disk full) left the running count too high.
        self.count = int(db.execute("SELECT COUNT(*) FROM journal").fetchone()[0])
        excess = self.count - self.max_events
        if excess <= 0:
            return
        deleted = db.execute(
            "DELETE FROM journal WHERE seq IN (SELECT seq FROM journal ORDER BY seq LIMIT ?)", (excess,)
        ).rowcount
        self.count -= deleted
        self.pruned_total += deleted

    def _prune_age(self, db: sqlite3.Connection) -> None:
        cutoff = time.time() - self.max_age_seconds
        # Rows are in commit order, so the expired ones are at the start: the scan stops at the first
        # row still young enough.
        first_kept = db.execute(
            "SELECT seq FROM journal WHERE created_at >= ? ORDER BY seq LIMIT 1", (cutoff,)
        ).fetchone()
        if first_kept is None:
            deleted = db.execute("DELETE FROM journal").rowcount
        else:
            deleted = db.execute("DELETE FROM journal WHERE seq < ?", (first_kept[0],)).rowcount
        self.count -= deleted
        self.pruned_total += deleted

    # -- the readers' side (one connection per replay, its calls serialized by a lock) -------------

    def reader(self) -> JournalReader:
        return JournalReader(self.path)


class JournalReader:
    """Called through ``asyncio.to_thread``: each call may run on another thread, and a cancelled replay
    closes the reader while its last read still runs in its thread (cancelling the await does not stop
    the thread). Closing a connection under a running query crashed the process (a segfault in
    ``after``, seen in a full test run), hence one lock around every use of the connection."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()

    def position(self, event_id: str) -> int | None:
        """The journal position of ``event_id``, or None when it is not (or no longer) there.

        Searched from the newest row back, without an index (which every commit would have to
        maintain): a client resumes from a recent event, found after a short walk; the whole journal
        is walked only for an id that is not there (docs/web.md gives the times)."""
        with self._lock:
            row = self._db.execute(
                "SELECT seq FROM journal WHERE event_id = ? ORDER BY seq DESC LIMIT 1", (event_id,)
            ).fetchone()
        return int(row[0]) if row else None

    def after(self, seq: int, limit: int) -> list[OutboxRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, topic, payload, created_at FROM journal WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [OutboxRow(s, eid, topic, bytes(body), created) for s, eid, topic, body, created in rows]

    def latest_on(self, topic: str, limit: int) -> list[bytes]:
        """Payloads of the last ``limit`` events on ``topic``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT payload FROM "
                "(SELECT seq, payload FROM journal WHERE topic = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq",
                (topic, limit),
            ).fetchall()
        return [bytes(body) for (body,) in rows]

    def close(self) -> None:
        with self._lock:  # waits for a read still running in another thread
            self._db.close()
