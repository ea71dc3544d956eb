"""The publisher's side of the outbox: one cursor per broker session (daemon/session.OutboxCursor).

A session starts again from the oldest row: whatever was in flight when the last one ended is sent
again (at least once). The outbox decides what a row weighs and when its deletion is committed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from passerelle.daemon.outbox_types import OutboxRow

if TYPE_CHECKING:
    from passerelle.daemon.outbox import Outbox


class OutboxReader:
    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._after = 0  # the last sequence number handed out

    async def next_rows(self, limit: int, *, wait: bool = True) -> list[OutboxRow]:
        outbox = self._outbox
        outbox.rows_added.clear()  # before the read: a row added during it wakes the wait below
        rows = await outbox.fetch(self._after, limit)
        if rows:
            self._after = max(self._after, rows[-1].seq)
        elif wait:
            await outbox.rows_added.wait()
        return rows

    def acknowledged(self, row: OutboxRow) -> None:
        self._outbox.delete(row.seq, row.size)

    def wake(self) -> None:
        self._outbox.rows_added.set()
