"""Ingest: what the drivers hand over goes to the outbox (events) or the inventory (device changes).

Each driver may have at most ``INGEST_WINDOW`` events handed over and not yet committed; an event is
acknowledged to its driver once on disk, or its acknowledgement fails with the reason it was not stored
(invalid device id, too large to ever publish, outbox full, daemon stopping). Never left hanging.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from passerelle.daemon.driver import Driver, DriverEvent, DriverItem
from passerelle.daemon.events import envelope_json
from passerelle.daemon.family import Family, event_leaf
from passerelle.daemon.inventory import Inventory
from passerelle.daemon.metrics import EventTallies
from passerelle.daemon.outbox import Outbox
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.topics import Topics

log = logging.getLogger(__name__)

INGEST_WINDOW = 256  # events a driver may have handed over but not yet committed

# Why an event of this payload can never be published on this topic, or None (the publisher's check).
RefuseOversized = Callable[[str, bytes], Exception | None]


@dataclass(kw_only=True, slots=True)
class Ingest:
    station: str
    topics: Topics
    inventory: Inventory
    retained: RetainedStore
    outbox: Outbox
    tallies: EventTallies
    refuse_oversized: RefuseOversized
    family_of: dict[str, Family] = field(default_factory=dict)  # by driver name
    _windows: dict[str, asyncio.Semaphore] = field(default_factory=dict, init=False)
    # Every event pays for these lookups: (driver, schema) -> topic, and the device ids already checked.
    _topics: dict[tuple[str, str], str] = field(default_factory=dict, init=False)
    _valid_ids: set[str] = field(default_factory=set, init=False)

    def adopt(self, driver: Driver, family: Family) -> None:
        """Accept ``driver``'s events from now on (they go to ``family``'s channels)."""
        self.family_of[driver.name] = family
        self._windows.setdefault(driver.name, asyncio.Semaphore(INGEST_WINDOW))
        for key in [key for key in self._topics if key[0] == driver.name]:
            del self._topics[key]  # a re-adopted driver may belong to another family now

    def _topic(self, driver: str, family: Family, schema: str) -> str:
        topic = self._topics.get((driver, schema))
        if topic is None:
            topic = self._topics[driver, schema] = self.topics.channel(event_leaf(family, schema))
        return topic

    async def accept(self, driver: Driver, item: DriverItem) -> None:
        """The supervisor's sink: returns once the event is handed to the outbox (not yet committed)."""
        if not isinstance(item, DriverEvent):
            self.inventory.update(item.device, item.removed)
            return
        name = driver.name
        family = self.family_of[name]
        device_id = item.device.id
        if device_id not in self._valid_ids:
            if not self.inventory.valid_id(device_id):
                log.error("driver %s emitted an event for an invalid device id; dropped", name)
                _fail_ack(item, ValueError("invalid device id"))
                return
            if len(self._valid_ids) < 4096:  # device ids are few; a driver inventing them is not cached
                self._valid_ids.add(device_id)
        event_id, payload = envelope_json(self.station, item)
        self.tallies.count_received(family.name)
        topic = self._topic(name, family, item.schema)
        too_large = self.refuse_oversized(topic, payload)
        if too_large is not None:  # it would block the outbox: the driver is told, nothing is stored
            log.error("driver %s: %s %s", driver.name, item.schema, too_large)
            _fail_ack(item, too_large)
            return
        window = self._windows.get(name)
        if window is None:  # a driver the supervisor runs without adopt() (tests of the ingest alone)
            window = self._windows[name] = asyncio.Semaphore(INGEST_WINDOW)
        try:
            await window.acquire()
        except asyncio.CancelledError:  # stopping: every ack is completed or failed, never left hanging
            _fail_ack(item, RuntimeError("daemon stopping; event not stored"))
            raise
        committed = self.outbox.submit(event_id, topic, payload)
        if item.retained_state:
            self.retained.set(self.topics.device_state(item.device.id, item.retained_state), payload)

        def settle(done: asyncio.Future[int]) -> None:
            window.release()
            error = done.exception()
            if error is not None:
                _fail_ack(item, error)
            elif item.ack is not None and not item.ack.done():
                item.ack.set_result(None)

        committed.add_done_callback(settle)


def _fail_ack(item: DriverEvent, error: BaseException) -> None:
    if item.ack is not None and not item.ack.done():
        item.ack.set_exception(error)
    elif item.ack is None:
        log.error("event from %s not stored: %s", item.device.id, error)
