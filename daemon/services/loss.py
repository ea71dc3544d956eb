"""``bridge/loss``: the event announcing events that will never be published (dropped by a full outbox,
refused while the disk refused writes, found damaged). The outbox decides when; this builds the event."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from passerelle.daemon.events import LossData, loss_json
from passerelle.daemon.outbox_types import DroppedRows
from passerelle.daemon.topics import Topics


@dataclass(frozen=True, slots=True)
class LossEvents:
    """The outbox's ``loss_event`` factory: (topic, event id, payload) of the loss event for ``dropped``."""

    station: str
    topics: Topics

    def __call__(self, dropped: DroppedRows) -> tuple[str, UUID, bytes]:
        data = LossData(
            dropped=dropped.count,
            first_event_id=dropped.first_event_id,
            last_event_id=dropped.last_event_id,
            reason=dropped.reason,
        )
        event_id, payload = loss_json(self.station, data)
        return self.topics.loss, event_id, payload
