"""Both simulators on a loop over a scenario: used by ``passerelle simulate scanner`` and the demo."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from passerelle.simulators.scanner.hid_sim import HidScannerSimulator
from passerelle.simulators.scanner.keyboard import GsMode
from passerelle.simulators.scanner.scenarios import load_scenario
from passerelle.simulators.scanner.serial_sim import SerialScannerSimulator

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def running_simulators(
    *,
    serial_link: Path | None,
    hid_path: Path | None,
    layout: str = "fr",
    gs_mode: GsMode = "ctrl",
    scenario: str = "psad",
    interval: float = 2.0,
    loops: int = 0,
) -> AsyncIterator[asyncio.Task[None]]:
    serial_sim = SerialScannerSimulator(serial_link) if serial_link else None
    hid_sim = HidScannerSimulator(hid_path, layout=layout, gs_mode=gs_mode) if hid_path else None
    if serial_sim:
        serial_sim.open()
    if hid_sim:
        hid_sim.create()

    async def hid_scan(sim: HidScannerSimulator, text: str) -> bool:
        """Type on the HID simulator if a reader has the FIFO open; a missing reader skips the scan."""
        try:
            if not sim.connected:
                await sim.connect(timeout=0)
            await sim.scan(text)
        except OSError as exc:  # ENXIO: nobody reading yet; EPIPE: the reader went away
            log.info("HID simulator: no reader (%s); scan skipped", exc.strerror)
            sim.disconnect()
            return False
        return True

    async def play() -> None:
        scans = load_scenario(scenario)
        rounds = itertools.count() if loops <= 0 else range(loops)
        for _ in rounds:
            for i, scan in enumerate(scans):
                # Alternate between the two scanners so both show up in a short demo.
                use_serial = serial_sim is not None and (hid_sim is None or i % 2 == 0)
                if use_serial and serial_sim is not None:
                    try:
                        await serial_sim.scan(scan.text)
                    except BlockingIOError:  # nobody reads the pty and its buffer is full
                        log.info("serial simulator: no reader; scan dropped")
                elif hid_sim is not None and not await hid_scan(hid_sim, scan.text):
                    await asyncio.sleep(interval)
                    continue
                log.info("simulated scan %s on %s", scan.name, "serial" if use_serial else "hid")
                await asyncio.sleep(interval)

    task = asyncio.create_task(play(), name="scanner-simulators")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if serial_sim:
            serial_sim.close()
            serial_sim.link.unlink(missing_ok=True)
        if hid_sim:
            hid_sim.close()


async def run_simulators(**kwargs: object) -> None:
    async with running_simulators(**kwargs) as task:  # type: ignore[arg-type]
        for name, value in (("serial", kwargs.get("serial_link")), ("hid", kwargs.get("hid_path"))):
            if value:
                print(f"{name} scanner simulator at {value}")
        await task
