"""bridge/loss: the event that says which events will never be published, and why."""

from __future__ import annotations

import json
from uuid import UUID

from passerelle.daemon.events import LOSS_SCHEMA, Envelope
from passerelle.daemon.outbox_types import DROP_OLDEST_REASON, DroppedRows, OutboxRow, damaged_rows
from passerelle.daemon.services.loss import LossEvents
from passerelle.daemon.topics import Topics

TOPICS = Topics("passerelle/st-1")
FIRST, LAST = "0190a5d2-0000-7000-8000-000000000001", "0190a5d2-0000-7000-8000-000000000009"


def test_a_drop_is_announced_on_bridge_loss_with_its_count_ids_and_reason() -> None:
    topic, event_id, payload = LossEvents("st-1", TOPICS)(DroppedRows(9, 9, 900, FIRST, LAST))
    assert topic == "passerelle/st-1/bridge/loss"
    body = json.loads(payload)
    Envelope.model_validate(body)  # the published envelope, whatever the data
    assert body["schema"] == LOSS_SCHEMA
    assert body["event_id"] == str(event_id) and isinstance(event_id, UUID)
    assert body["station"] == "st-1" and body["device"] is None
    assert body["data"] == {
        "dropped": 9,
        "first_event_id": FIRST,
        "last_event_id": LAST,
        "reason": DROP_OLDEST_REASON,
    }


def test_each_loss_is_its_own_event() -> None:
    losses = LossEvents("st-1", TOPICS)
    dropped = DroppedRows(1, 1, 10, FIRST, FIRST)
    assert losses(dropped)[1] != losses(dropped)[1]  # consumers dedupe on event ids: never merged


def test_damaged_rows_whose_ids_are_unreadable_are_announced_without_ids() -> None:
    rows = [OutboxRow(4, "garbled\x00", "t", b"x", 0.0), OutboxRow(6, LAST, "t", b"y", 0.0)]
    _, _, payload = LossEvents("st-1", TOPICS)(damaged_rows(rows))
    data = json.loads(payload)["data"]
    assert data["dropped"] == 2
    assert data["first_event_id"] is None and data["last_event_id"] == LAST
    assert "numbers 4 to 6" in data["reason"]
