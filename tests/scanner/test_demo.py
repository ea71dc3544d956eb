"""The scanner demo: both simulators running the PSAD scenario, read by the real drivers it configures."""

from __future__ import annotations

import asyncio
from pathlib import Path

from passerelle.daemon.driver import DriverContext
from passerelle.drivers.scanner import FAMILY
from passerelle.drivers.scanner.config import ScannerSection
from passerelle.simulators.scanner.hooks import SIMULATOR
from passerelle.simulators.scanner.runner import running_simulators

from .conftest import started


async def test_demo_produces_scans_from_both_simulators(tmp_path: Path) -> None:
    async with SIMULATOR.demo(tmp_path) as section_data:
        assert section_data is not None
        section = ScannerSection.model_validate(section_data)
        drivers = FAMILY.create_drivers(section, DriverContext("demo", tmp_path, tmp_path))
        streams = [await started(driver) for driver in drivers]
        try:
            first = [await stream.scan(timeout=15) for stream in streams]
        finally:
            for stream in streams:
                await stream.close()
    assert {p.kind for p in first} <= {"gs1", "e_prescription", "rpps", "finess", "acl13", "hibc"}
    assert first[0].raw.startswith("]d2")  # serial: the CPAP mask UDI, first in the scenario
    assert first[1].raw.startswith("]C1")  # HID: the oxygen concentrator, second


async def test_simulators_without_readers_never_block(tmp_path: Path) -> None:
    """`passerelle simulate scanner` before any daemon runs: scans are dropped, the loop goes on."""
    async with running_simulators(
        serial_link=tmp_path / "tty", hid_path=tmp_path / "hid.fifo", interval=0.0, loops=60
    ) as task:
        await asyncio.wait_for(task, 20)
    assert not (tmp_path / "tty").exists()
    assert not (tmp_path / "hid.fifo").exists()
