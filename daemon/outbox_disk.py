"""When the state disk refuses the outbox's writes (full, remounted read-only, failing).

SQLite reports a full disk as "database or disk is full" and a read-only one in several ways; what the
operator needs is the operating system's own reason, so a failed commit is followed by a one-page probe
write in the same directory, whose OSError names it (ENOSPC, EROFS, EIO…).

While writes fail, the batch stays queued and is retried with a capped backoff, so commits resume by
themselves when space returns. Events keep arriving meanwhile: up to ``UNSTORED_LIMIT`` of them wait in
memory (their drivers are not acknowledged); beyond that, new events are refused with
``OutboxWriteError`` and tallied here, to be announced by one loss event on ``bridge/loss`` as soon as
the disk takes writes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from passerelle.daemon.backoff import Backoff
from passerelle.daemon.outbox_types import DroppedRows, OutboxWriteError

log = logging.getLogger(__name__)

UNSTORED_LIMIT = 200  # events held in memory while the disk refuses writes (below the ingest window)
RETRY_MIN_SECONDS = 0.1
RETRY_MAX_SECONDS = 1.0  # bounds how long commits stay stopped once space is back
PROBE_NAME = ".passerelle-write-probe"


def describe_write_error(directory: Path, error: BaseException) -> str:
    """The reason a commit failed, with the OS error when a probe write can show it."""
    probe = directory / PROBE_NAME
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, bytes(4096))
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink()
    except OSError as os_error:
        with contextlib.suppress(OSError):
            probe.unlink()
        name = errno.errorcode.get(os_error.errno or 0, "unknown errno")
        return f"{os_error.strerror or os_error} ({name}) in {directory}; SQLite said: {error}"
    code = error.sqlite_errorname if isinstance(error, sqlite3.Error) else type(error).__name__
    return f"{error} ({code})"


@dataclass(slots=True)
class Unstored:
    """Events refused because the disk refused writes: announced once writes work again."""

    count: int = 0
    size: int = 0
    first_event_id: str | None = None
    last_event_id: str | None = None
    reason: str = ""

    def add(self, event_id: str, size: int, reason: str) -> None:
        self.count += 1
        self.size += size
        self.first_event_id = self.first_event_id or event_id
        self.last_event_id = event_id
        self.reason = reason

    def as_dropped(self, seq: int) -> DroppedRows:
        return DroppedRows(
            seq,
            self.count,
            self.size,
            self.first_event_id,
            self.last_event_id,
            reason=f"not stored: the state disk refused writes ({self.reason})",
        )


class WriteTrouble:
    """The outbox's write health: the current failure, if any, and the counts health and metrics show."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.error: str | None = None  # the OS reason while commits fail
        self.errors_total = 0  # failed commit attempts
        self.unstored_total = 0  # events refused for that reason, over the daemon's life
        self.unstored = Unstored()  # refused since the last announcement
        self._backoff = Backoff(RETRY_MIN_SECONDS, RETRY_MAX_SECONDS)

    @property
    def failing(self) -> bool:
        return self.error is not None

    def failed(self, error: BaseException) -> float:
        """Record a failed commit; returns the seconds to wait before retrying."""
        self.errors_total += 1
        reason = describe_write_error(self.directory, error)
        if reason != self.error:
            log.error("outbox commit failed: %s; events wait in memory and the commit is retried", reason)
        self.error = reason
        return self._backoff.next_delay()

    def recovered(self) -> bool:
        """A commit succeeded; True when it ends a failure."""
        if self.error is None:
            return False
        log.warning("outbox commits work again after %d failed attempts", self._backoff.attempt)
        self.error = None
        self._backoff.reset()
        return True

    def abandon(self, waiting: list[asyncio.Future[int]]) -> None:
        """Stopping while writes fail: each event still in memory is failed, loudly."""
        log.critical(
            "stopping while the state disk refuses writes: %d events could not be stored (%s)",
            len(waiting),
            self.error,
        )
        for done in waiting:
            if not done.done():
                done.set_exception(OutboxWriteError(f"event not stored: {self.error}"))

    def refuse(self, event_id: str, size: int) -> OutboxWriteError:
        self.unstored_total += 1
        self.unstored.add(event_id, size, self.error or "unknown")
        return OutboxWriteError(
            f"event not stored: {self.error}; {UNSTORED_LIMIT} events already wait in memory"
        )

    def take_unstored(self) -> Unstored | None:
        """What was refused since the last announcement, to announce now (once)."""
        if not self.unstored.count:
            return None
        taken, self.unstored = self.unstored, Unstored()
        log.error("%d events were not stored while the disk refused writes", taken.count)
        return taken
