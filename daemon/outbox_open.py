"""Opening the outbox: one process per file, damage found before use, a proof that it can be written."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from passerelle.daemon import outbox_sql as sql
from passerelle.daemon.outbox_damage import DamageRecord
from passerelle.daemon.outbox_integrity import inspect_files, move_aside
from passerelle.daemon.outbox_types import OutboxError

SQLITE_DAMAGE_CODES = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB: the file, not its location, is at fault


@dataclass(frozen=True, slots=True)
class Opened:
    db: sqlite3.Connection
    lock_fd: int
    last_seq: int
    count: int
    size: int
    oldest_created_at: float | None


def open_outbox(path: Path, damage: DamageRecord) -> Opened:
    """Open ``path`` for this process alone; a damaged outbox is moved aside, recorded in ``damage``
    and replaced by a fresh one. Raises OutboxError when the location itself cannot be used."""
    lock_fd: int | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = _lock(path)
        damage.load()
        db, last, count, size, oldest = _open_checked(path, damage)
        db.execute("BEGIN IMMEDIATE")  # proves we can write (read-only file or directory fails here)
        db.execute("COMMIT")
        return Opened(db, lock_fd, last, count, size, oldest)
    except BaseException as exc:
        if lock_fd is not None:
            os.close(lock_fd)
        if isinstance(exc, sqlite3.DatabaseError):
            raise OutboxError(f"outbox {path} cannot be used: {exc}") from exc
        if isinstance(exc, OSError):
            raise OutboxError(f"outbox {path} cannot be used: {exc.strerror or exc}") from exc
        raise


def _lock(path: Path) -> int:
    """One daemon per outbox: a second one would publish every event twice."""
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise OutboxError(f"outbox {path} is in use by another passerelle process") from None
    return fd


def _open_checked(path: Path, damage: DamageRecord) -> tuple[sqlite3.Connection, int, int, int, float | None]:
    reason = inspect_files(path)
    if reason is None:
        db: sqlite3.Connection | None = None
        try:
            db = sql.connect(path)
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check == "ok":
                return db, sql.last_seq(db), *sql.totals(db), sql.oldest_created_at(db)
            reason = f"the page structure is damaged (quick_check: {check})"
        except sqlite3.DatabaseError as exc:
            if (exc.sqlite_errorcode or 0) & 0xFF not in SQLITE_DAMAGE_CODES:
                raise  # an unusable location (permissions, read-only), not a damaged file
            reason = f"SQLite cannot read it ({exc})"
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()
    moved = move_aside(path)
    damage.add(f"{reason}; its events were not published, a fresh outbox was started", moved)
    db = sql.connect(path)
    return db, 0, 0, 0, None
