"""The scanner drivers as the device part of the reconnecting loop: what each calls a failure, what
the inventory shows before, during and after. Local files and FIFOs only (no pty, no real node)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

from passerelle.daemon.driver import DeviceChange, DeviceState, DriverEvent, DriverItem
from passerelle.drivers.scanner.config import ScannerDevice
from passerelle.drivers.scanner.hid import HidScannerDriver
from passerelle.drivers.scanner.payload import Problem, ScanPayload
from passerelle.drivers.scanner.serial_port import SerialScannerDriver
from passerelle.simulators.scanner.hid_sim import HidScannerSimulator


def device(path: Path, driver: str) -> ScannerDevice:
    return ScannerDevice.model_validate(
        {
            "id": "counter-1",
            "driver": driver,
            "path": str(path),
            "reopen_interval_s": 0.01,
            "idle_flush_ms": 5000,
        }
    )


async def next_item(items: AsyncIterator[DriverItem]) -> DriverItem:
    async with asyncio.timeout(5):
        return await anext(items)


def descriptors_open_on(path: Path) -> list[str]:
    """This process's descriptors on path (even unlinked since: "<path> (deleted)")."""
    return [
        fd
        for fd in os.listdir("/proc/self/fd")
        if os.path.realpath(f"/proc/self/fd/{fd}").startswith(str(path))
    ]


def change(item: DriverItem) -> tuple[DeviceState, str | None]:
    assert isinstance(item, DeviceChange)
    return item.device.state, item.device.problem


def test_before_its_first_open_a_scanner_is_offline_not_opened_yet(tmp_path: Path) -> None:
    [info] = HidScannerDriver(device(tmp_path / "event0", "hid")).devices()
    assert (info.state, info.problem, info.interface, info.driver) == (
        DeviceState.OFFLINE,
        "not opened yet",
        str(tmp_path / "event0"),
        "hid",
    )


async def test_a_missing_hid_node_is_named_by_its_errno_text(tmp_path: Path) -> None:
    driver = HidScannerDriver(device(tmp_path / "event0", "hid"))
    items = driver.events()
    assert change(await next_item(items)) == (DeviceState.OFFLINE, "No such file or directory")
    await items.aclose()


async def test_a_missing_serial_port_is_named_by_pyserials_message(tmp_path: Path) -> None:
    path = tmp_path / "ttyACM0"
    driver = SerialScannerDriver(device(path, "serial"))
    items = driver.events()
    state, problem = change(await next_item(items))
    assert state is DeviceState.OFFLINE
    assert (
        problem is not None and problem.startswith("[Errno 2] could not open port") and str(path) in problem
    )
    assert driver.devices()[0].problem == problem
    await items.aclose()


async def test_a_hid_fifo_that_ends_mid_scan_gives_the_cut_scan_then_offline_then_online(
    tmp_path: Path,
) -> None:
    sim = HidScannerSimulator(tmp_path / "event0", layout="us")
    sim.create()
    driver = HidScannerDriver(device(sim.path, "hid"))
    await driver.start()
    items = driver.events()
    try:
        assert change(await next_item(items)) == (DeviceState.ONLINE, None)
        await sim.connect()
        await sim.scan("ABCDEF", terminator=None, realtime=False)
        sim.disconnect()  # a FIFO keeps what was written for the reader: the keys, then end of stream
        cut = await next_item(items)
        assert isinstance(cut, DriverEvent) and isinstance(cut.data, ScanPayload)
        assert (cut.data.raw, Problem.TRUNCATED in cut.data.problems) == ("ABCDEF", True)
        assert change(await next_item(items)) == (DeviceState.OFFLINE, "end of stream")
        assert change(await next_item(items)) == (DeviceState.ONLINE, None)  # reopened at once
    finally:
        await items.aclose()
        sim.close()
    assert descriptors_open_on(sim.path) == []
