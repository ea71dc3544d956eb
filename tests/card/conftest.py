"""Card family fixtures: one private pcscd (with a vpcd bi-slot reader) for the whole session.

libpcsclite reads PCSCLITE_CSOCK_NAME once per process, so every test talks to the same socket path;
tests that kill pcscd restart the same instance. The system's readers are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from passerelle.daemon.driver import DriverContext, DriverItem
from passerelle.drivers.card.config import CardSection
from passerelle.drivers.card.driver import CardDriver
from passerelle.drivers.card.pcsc_api import STATE_EMPTY, ScardApi
from passerelle.simulators.card.isolated_pcscd import FRIENDLY_NAME, IsolatedPcscd
from passerelle.simulators.card.virtual_cards import VirtualCard
from passerelle.simulators.card.vpcd_link import InsertedCard

SLOT_NAMES = (f"{FRIENDLY_NAME} 00 00", f"{FRIENDLY_NAME} 00 01")
READER_ID = "passerelle-virtual-pcd"


@dataclass
class Slots:
    """Insert virtual cards into the two vpcd slots; everything is pulled out at teardown."""

    pcscd: IsolatedPcscd
    inserted: list[InsertedCard] = field(default_factory=list)

    def insert(self, card: VirtualCard, slot: int = 0) -> InsertedCard:
        inserted = InsertedCard(card, self.pcscd.port + slot).insert()
        self.inserted.append(inserted)
        return inserted

    def remove_all(self) -> None:
        for card in self.inserted:
            card.remove()
        self.inserted.clear()


def wait_slots_state(flag: int = STATE_EMPTY, slots: tuple[int, ...] = (0, 1), timeout: float = 5.0) -> None:
    """Block until pcscd reports the flag on these slots (its polling lags a change by up to ~0.7 s),
    using a context of the test's own."""
    api = ScardApi()
    names = [SLOT_NAMES[slot] for slot in slots]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            context = api.establish()
            try:
                rc, states = api.get_status_change(context, 0, [(name, 0) for name in names])
            finally:
                api.release(context)
            if rc == 0 and all(s.event_state & flag for s in states):
                return
        time.sleep(0.02)
    raise AssertionError(f"pcscd does not report state {flag:#x} on slots {slots}")


@pytest.fixture
def slots(pcscd: IsolatedPcscd) -> Iterator[Slots]:
    pcscd.start()  # a previous test may have stopped it
    wait_slots_state()
    holder = Slots(pcscd)
    yield holder
    holder.remove_all()
    pcscd.start()
    wait_slots_state()


class Collector:
    """Items a driver yields, with waits bounded by a deadline."""

    def __init__(self) -> None:
        self.items: list[DriverItem] = []
        self._changed = asyncio.Event()

    def add(self, item: DriverItem) -> None:
        self.items.append(item)
        self._changed.set()

    async def wait_for(
        self, predicate: Callable[[DriverItem], bool], timeout: float = 5.0, after: int = 0
    ) -> DriverItem:
        """The first item at index >= after matching; raise after the deadline."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for item in self.items[after:]:
                if predicate(item):
                    return item
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no matching item within {timeout} s; got {self.items!r}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._changed.wait()

    def index_of(self, item: DriverItem) -> int:
        return next(i for i, candidate in enumerate(self.items) if candidate is item)


@dataclass
class RunningDriver:
    driver: CardDriver
    collector: Collector


@contextlib.asynccontextmanager
async def run_driver(config: dict[str, Any] | None = None, **kwargs: Any) -> AsyncIterator[RunningDriver]:
    section = CardSection.model_validate(config or {})
    context = DriverContext(station="test", state_dir=Path("/nonexistent"), runtime_dir=Path("/nonexistent"))
    driver = CardDriver(section, section.devices[0], context, **kwargs)
    collector = Collector()
    await driver.start()

    async def consume() -> None:
        async for item in driver.events():
            collector.add(item)

    task = asyncio.create_task(consume())
    try:
        yield RunningDriver(driver, collector)
    finally:
        await driver.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
