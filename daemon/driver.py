"""The contract between the core and every device family.

A driver turns one source of hardware (a scanner, the PC/SC subsystem, a watched folder of CPAP cards)
into a stream of typed items. It never sees MQTT: the core wraps what it yields in the event envelope,
stores it in the durable outbox and publishes it.

Acknowledgement: the core commits an event to the outbox before it completes the event's ``ack``
future. A driver that must not forget an input until it is stored (the CPAP import ledger) creates a
future, yields the event and awaits the future; others leave ``ack`` unset.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from pydantic import BaseModel


class DeviceState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    DISABLED = "disabled"  # configuration invalid or driver refused to start; see ``problem``


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One device as the inventory (``bridge/devices``) shows it.

    ``id`` is operator-chosen or derived from stable hardware facts; it appears in topic names, so it
    must never contain patient data.
    """

    id: str
    family: str
    driver: str
    model: str | None = None
    interface: str | None = None  # e.g. "/dev/input/by-id/…", "Kapelse KAP-LINK2 (1234)"
    state: DeviceState = DeviceState.ONLINE
    problem: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DriverEvent:
    """Something that happened on a device: published once (at least once) on the family channel.

    ``retained_state``: when set, the same payload is also kept as the device's current state and
    published retained at ``<device_id>/<retained_state>`` (e.g. what card is in a slot).
    ``event_id``: leave None for a fresh UUIDv7; set it to make re-imports idempotent.
    """

    device: DeviceInfo
    schema: str  # versioned payload schema id, e.g. "passerelle.scan/1"
    data: BaseModel
    occurred_at: datetime | None = None
    event_id: UUID | None = None
    retained_state: str | None = None
    ack: asyncio.Future[None] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class DeviceChange:
    """A device appeared, disappeared or changed state: updates the inventory and availability."""

    device: DeviceInfo
    removed: bool = False  # forget the device entirely (e.g. a reader unplugged for good)


DriverItem = DriverEvent | DeviceChange


class RequestError(Exception):
    """Raised by a request handler: the message goes back to the requester as a typed error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# A request handler receives the request's JSON object (without the transaction id) and returns the
# response's ``data``.
RequestHandler = Callable[[Mapping[str, Any]], Awaitable[Any]]


@runtime_checkable
class Driver(Protocol):
    """What the supervisor runs. One instance per configured device source."""

    @property
    def name(self) -> str:
        """Stable instance name for logs, metrics labels and health (e.g. "scanner/counter-1")."""
        ...

    async def start(self) -> None:
        """Acquire resources. Raising here counts as a failure and the supervisor retries."""
        ...

    async def stop(self) -> None:
        """Release resources; must be safe to call after a failed start."""
        ...

    def events(self) -> AsyncIterator[DriverItem]:
        """Items until the source ends. Raising (or ending) makes the supervisor restart the driver."""
        ...

    def devices(self) -> Sequence[DeviceInfo]:
        """The devices this driver sees now (for the inventory)."""
        ...

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        """Extra bridge commands this driver answers, e.g. {"card/reread": …}. May be empty."""
        ...


@dataclass(frozen=True, slots=True)
class DriverContext:
    """What the core tells a family when it builds drivers."""

    station: str
    state_dir: Path  # writable, persistent (outbox, import ledgers)
    runtime_dir: Path  # writable, volatile
