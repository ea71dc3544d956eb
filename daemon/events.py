"""The event envelope every published payload shares, and the core's own payload models."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal
from uuid import UUID

import uuid_utils
from pydantic import BaseModel, ConfigDict, Field

from passerelle.daemon.driver import DeviceInfo, DriverEvent

LOSS_SCHEMA = "passerelle.loss/1"


def new_event_id() -> UUID:
    """UUIDv7: time-ordered, so the outbox index stays append-only (RFC 9562)."""
    return UUID(bytes=uuid_utils.uuid7().bytes)


class _LocalOffset:
    """The workstation's UTC offset, looked up again at each new minute.

    Looking it up costs more than the rest of the timestamp, and time zone rules only change an
    offset on a whole minute, so one lookup per minute gives the same answer as one per event.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.zone: tzinfo = UTC
        self.valid_until = 0.0

    def now(self) -> datetime:
        t = self.clock()
        if t >= self.valid_until:
            self.zone = datetime.fromtimestamp(t, UTC).astimezone().tzinfo or UTC
            self.valid_until = (t // 60 + 1) * 60
        return datetime.fromtimestamp(t, self.zone)


now = _LocalOffset().now  # aware local time: RFC 3339 with the offset billing staff read


class DeviceRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    family: str
    driver: str
    model: str | None = None

    @classmethod
    def of(cls, device: DeviceInfo) -> DeviceRef:
        return cls(id=device.id, family=device.family, driver=device.driver, model=device.model)


class Envelope(BaseModel):
    """What every event payload looks like on the wire; ``data`` depends on ``schema``."""

    model_config = ConfigDict(title="Passerelle event envelope")

    schema_: str = Field(
        alias="schema", description='Payload schema id and major version, e.g. "passerelle.scan/1"'
    )
    event_id: UUID = Field(description="UUIDv7; consumers deduplicate on it (delivery is at least once)")
    occurred_at: datetime = Field(description="RFC 3339 with offset")
    station: str
    device: DeviceRef | None = Field(description="The device concerned; null for bridge-level events")
    data: Any


def envelope_json(station: str, event: DriverEvent) -> tuple[str, bytes]:
    """Serialize an event in its envelope.

    This is the hot path of every event, so the envelope is assembled from pre-serialized parts rather
    than validated again through ``Envelope`` (the driver's ``data`` model is already validated); a test
    checks the result against the ``Envelope`` model and the published JSON Schemas.
    """
    # uuid_utils' own string form: a stdlib UUID built only to be printed costs ten times more.
    event_id = str(event.event_id or uuid_utils.uuid7())
    occurred_at = (event.occurred_at or now()).isoformat()
    parts = (
        b'{"schema":',
        _json_str(event.schema),
        b',"event_id":"',
        event_id.encode(),
        b'","occurred_at":"',
        occurred_at.encode(),
        b'","station":',
        _json_str(station),
        b',"device":',
        _device_json(event.device),
        b',"data":',
        event.data.model_dump_json().encode(),
        b"}",
    )
    return event_id, b"".join(parts)


@functools.lru_cache(maxsize=256)  # station names and schema ids: a handful of values
def _json_str(value: str) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


@functools.lru_cache(maxsize=1024)
def _device_json(device: DeviceInfo) -> bytes:
    return DeviceRef.of(device).model_dump_json().encode()


class LossData(BaseModel):
    """Events that will never be published: discarded by the drop-oldest policy of a full outbox, not
    stored because the state disk refused writes, or found damaged on disk. ``reason`` says which."""

    dropped: int = Field(description="How many events are lost")
    first_event_id: UUID | None
    last_event_id: UUID | None
    reason: str


def loss_json(station: str, data: LossData) -> tuple[UUID, bytes]:
    event_id = new_event_id()
    envelope = Envelope(
        schema=LOSS_SCHEMA, event_id=event_id, occurred_at=now(), station=station, device=None, data=data
    )
    return event_id, envelope.model_dump_json(by_alias=True).encode()


class Availability(BaseModel):
    """``bridge/state`` and ``<device_id>/availability`` (retained)."""

    state: Literal["online", "offline", "disabled"]
