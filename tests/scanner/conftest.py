"""Scanner fixtures: drivers pointed at real ptys and FIFOs, and a way to wait for their items."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from passerelle.daemon.driver import DeviceChange, DeviceState, Driver, DriverEvent, DriverItem
from passerelle.drivers.scanner.config import ScannerDevice
from passerelle.drivers.scanner.hid import HidScannerDriver
from passerelle.drivers.scanner.payload import ScanPayload
from passerelle.drivers.scanner.serial_port import SerialScannerDriver
from passerelle.simulators.scanner.hid_sim import HidScannerSimulator
from passerelle.simulators.scanner.keyboard import GsMode
from passerelle.simulators.scanner.serial_sim import SerialScannerSimulator


class ItemStream:
    """The items of a running driver, consumed in a background task, awaited with a deadline."""

    def __init__(self, items: AsyncIterator[DriverItem]) -> None:
        self.queue: asyncio.Queue[DriverItem] = asyncio.Queue()
        self._items = items
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for item in self._items:
            await self.queue.put(item)

    async def next(
        self, predicate: Callable[[DriverItem], bool] = lambda _: True, timeout: float = 5.0
    ) -> DriverItem:
        async with asyncio.timeout(timeout):
            while True:
                item = await self.queue.get()
                if predicate(item):
                    return item

    async def scan(self, timeout: float = 5.0) -> ScanPayload:
        item = await self.next(lambda i: isinstance(i, DriverEvent), timeout)
        assert isinstance(item, DriverEvent)
        assert isinstance(item.data, ScanPayload)
        return item.data

    async def state(self, state: DeviceState, timeout: float = 5.0) -> DeviceChange:
        item = await self.next(lambda i: isinstance(i, DeviceChange) and i.device.state == state, timeout)
        assert isinstance(item, DeviceChange)
        return item

    def pending_scans(self) -> list[ScanPayload]:
        out = []
        while not self.queue.empty():
            item = self.queue.get_nowait()
            if isinstance(item, DriverEvent) and isinstance(item.data, ScanPayload):
                out.append(item.data)
        return out

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def started(driver: Driver) -> ItemStream:
    """Start a driver as the supervisor does and consume its items in the background."""
    await driver.start()
    return ItemStream(driver.events())


@pytest.fixture
async def serial_rig(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Factory: (simulator on a pty behind a symlink, driver items) for given device options."""
    opened: list[tuple[SerialScannerSimulator, ItemStream]] = []

    async def make(**options: Any) -> tuple[SerialScannerSimulator, ItemStream, SerialScannerDriver]:
        sim = SerialScannerSimulator(tmp_path / f"ttyscan{len(opened)}")
        sim.open()
        device = ScannerDevice.model_validate(
            {"id": "counter-serial", "driver": "serial", "path": str(sim.link), "reopen_interval_s": 0.05}
            | options
        )
        driver = SerialScannerDriver(device)
        stream = await started(driver)
        opened.append((sim, stream))
        await stream.state(DeviceState.ONLINE)
        return sim, stream, driver

    yield make
    for sim, stream in opened:
        await stream.close()
        sim.close()


@pytest.fixture
async def hid_rig(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    opened: list[tuple[HidScannerSimulator, ItemStream]] = []

    async def make(
        layout: str = "us", gs_mode: GsMode = "ctrl", fifo: bool = True, **options: Any
    ) -> tuple[HidScannerSimulator, ItemStream, HidScannerDriver]:
        sim = HidScannerSimulator(
            tmp_path / f"event{len(opened)}",
            layout=layout,
            gs_mode=gs_mode,
            fifo=fifo,
        )
        sim.create()
        device = ScannerDevice.model_validate(
            {"id": "counter-hid", "driver": "hid", "path": str(sim.path), "layout": layout,
             "reopen_interval_s": 0.05} | options
        )  # fmt: skip
        driver = HidScannerDriver(device)
        stream = await started(driver)
        opened.append((sim, stream))
        await stream.state(DeviceState.ONLINE)
        await sim.connect()
        return sim, stream, driver

    yield make
    for sim, stream in opened:
        await stream.close()
        sim.close()
