"""What the outbox hands out and raises: rows, drop reports and its typed errors.

Kept apart from the outbox itself so that the SQL, integrity and write-failure modules can share them
without importing the writer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

DROP_OLDEST_REASON = "outbox full (policy drop_oldest)"


class OutboxError(Exception):
    """The database cannot be used (unwritable location, wrong file): reported clearly at start."""


class OutboxFullError(Exception):
    """The outbox is at its bound and the policy is to refuse new events."""


class OutboxWriteError(OutboxError):
    """The state disk refuses writes (full, read-only, I/O error): the event could not be stored.

    Raised to a driver only once the events already waiting in memory reach their bound; the message
    carries the operating system's reason.
    """


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    event_id: str
    topic: str
    payload: bytes
    created_at: float

    @property
    def size(self) -> int:
        """What the row counts for against ``outbox.max_bytes`` (the one place this is computed)."""
        return len(self.payload) + len(self.topic)


@dataclass(frozen=True, slots=True)
class DroppedRows:
    """Events that will never be published, announced on ``bridge/loss`` with ``reason``."""

    last_seq: int
    count: int
    size: int
    first_event_id: str | None
    last_event_id: str | None
    reason: str = DROP_OLDEST_REASON


# Builds the loss event row (topic, event id, payload) announcing a drop; supplied by the core.
LossEventFactory = Callable[[DroppedRows], tuple[str, UUID, bytes]]


def damaged_rows(rows: list[OutboxRow]) -> DroppedRows:
    """The loss report for stored rows whose checksum failed (their ids only if still readable)."""
    first, last = rows[0], rows[-1]
    return DroppedRows(
        last.seq,
        len(rows),
        sum(r.size for r in rows),
        _event_id_or_none(first.event_id),
        _event_id_or_none(last.event_id),
        reason=f"{len(rows)} stored event(s) damaged on disk (checksum mismatch, numbers {first.seq} "
        f"to {last.seq})",
    )


def _event_id_or_none(text: str) -> str | None:
    """A damaged row's id only if it still reads as one (the loss event promises UUIDs)."""
    try:
        return str(UUID(text))
    except ValueError:
        return None
