"""The outbox writer's unit of work: appends waiting for their commit, deletions, a pending trim."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from passerelle.daemon.outbox_types import OutboxRow


@dataclass(slots=True)
class Append:
    row: OutboxRow
    done: asyncio.Future[int]

    @property
    def size(self) -> int:
        return self.row.size


@dataclass(slots=True)
class Batch:
    appends: list[Append] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)
    trim: bool = False  # drop the oldest rows until within bounds (policy drop_oldest)
    loss_seq: int = 0  # number reserved for the loss event announcing a trim

    def split(self, most: int) -> tuple[Batch, Batch]:
        """This batch cut to at most ``most`` appends for one commit, and the appends left for the next;
        both carry the pending trim and its reserved loss number. A row can be published, and
        acknowledged, before its own commit: its deletion goes with its insertion (the same transaction
        inserts, copies to the journal, then deletes), never ahead of it, where it would delete nothing
        and leave the row to be published again after the next reconnection."""
        if len(self.appends) <= most:
            return self, Batch()
        later = self.appends[most:]
        later_seqs = {append.row.seq for append in later}
        rest = Batch(
            appends=later,
            deletes=[seq for seq in self.deletes if seq in later_seqs],
            trim=self.trim,
            loss_seq=self.loss_seq,
        )
        self.appends = self.appends[:most]
        self.deletes = [seq for seq in self.deletes if seq not in later_seqs]
        return self, rest

    def then(self, later: Batch) -> Batch:
        """This batch (which failed) followed by what arrived since: retried as one, in order."""
        return Batch(
            self.appends + later.appends,
            self.deletes + later.deletes,
            self.trim or later.trim,
            self.loss_seq or later.loss_seq,
        )
