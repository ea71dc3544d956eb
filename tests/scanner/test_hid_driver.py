"""HID driver reading real input_event records from a FIFO or a file written by the simulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from passerelle.daemon.driver import DeviceState
from passerelle.drivers.scanner.config import ScannerDevice
from passerelle.drivers.scanner.hid import HidScannerDriver
from passerelle.drivers.scanner.payload import Problem
from passerelle.simulators.scanner.hid_sim import HidScannerSimulator
from passerelle.simulators.scanner.keyboard import Typist
from passerelle.simulators.scanner.scenarios import load_scenario

from .conftest import started

MEDICINE = "]d2010340093000023617280200102AB41\x1d21H8KQ3P7W2M9"


@pytest.mark.parametrize(
    ("layout", "gs_mode"), [("us", "ctrl"), ("fr", "ctrl"), ("fr", "alt"), ("us", "alt")]
)
async def test_scan_typed_in_layout_arrives_decoded(
    hid_rig: Callable[..., Any], layout: str, gs_mode: str
) -> None:
    sim, stream, _ = await hid_rig(layout=layout, gs_mode=gs_mode)
    await sim.scan(MEDICINE)
    payload = await stream.scan()
    assert payload.raw == MEDICINE
    assert (payload.cip13, payload.lot, payload.serial, payload.valid) == (
        "3400930000236",
        "2AB41",
        "H8KQ3P7W2M9",
        True,
    )


async def test_every_scenario_through_the_french_hid_path(hid_rig: Callable[..., Any]) -> None:
    sim, stream, _ = await hid_rig(layout="fr")
    for scan in load_scenario():
        await sim.scan(scan.text, realtime=False)
        payload = await stream.scan()
        assert payload.raw == scan.text, scan.name


async def test_lost_terminator_is_flushed_by_idle_timer(hid_rig: Callable[..., Any]) -> None:
    sim, stream, _ = await hid_rig(idle_flush_ms=60)
    await sim.scan("3400930000236", terminator=None)
    payload = await stream.scan()
    assert (payload.kind, payload.problems) == ("cip13", [Problem.TERMINATOR_MISSING])


async def test_fifo_eof_mid_scan_then_new_writer(hid_rig: Callable[..., Any]) -> None:
    sim, stream, _ = await hid_rig(idle_flush_ms=2000)
    await sim.scan("ABCDEF", terminator=None, realtime=False)
    sim.disconnect()
    cut = await stream.scan()
    assert (cut.raw, Problem.TRUNCATED in cut.problems) == ("ABCDEF", True)
    await stream.state(DeviceState.OFFLINE)
    await stream.state(DeviceState.ONLINE)
    await sim.connect()
    await sim.scan("3401560012347")
    assert (await stream.scan()).kind == "acl13"


async def test_syn_dropped_mid_scan_through_the_driver(hid_rig: Callable[..., Any]) -> None:
    sim, stream, _ = await hid_rig()
    typist: Typist = sim.typist
    events = typist.type("3400", terminator=None)
    events += [*typist.syn_dropped(), (typist.now, 0, 0, 0)]  # SYN_DROPPED, then SYN_REPORT
    events += typist.type("930000236")
    sim.write_events(events)
    payload = await stream.scan()
    assert payload.raw == "3400930000236"
    assert payload.problems == [Problem.EVENTS_DROPPED]
    assert not payload.valid


async def test_regular_file_is_followed(hid_rig: Callable[..., Any]) -> None:
    sim, stream, _ = await hid_rig(layout="fr", fifo=False)
    await sim.scan(MEDICINE, realtime=False)
    assert (await stream.scan()).serial == "H8KQ3P7W2M9"
    await sim.scan("10101234564", realtime=False)
    assert (await stream.scan()).kind == "rpps"


async def test_interleaved_human_typing_is_dropped(hid_rig: Callable[..., Any]) -> None:
    sim, stream, driver = await hid_rig()
    await sim.scan("3400930000236", realtime=False)
    assert (await stream.scan()).raw == "3400930000236"
    sim.typist.key_interval = 0.15  # a person on the same interface
    await sim.scan("hello", terminator="\r")
    sim.typist.key_interval = 0.003
    await sim.scan("3401560012347")
    assert (await stream.scan()).raw == "3401560012347"
    assert driver.decoder.stats.dropped_fragments == 5


async def test_missing_node_reports_offline_until_it_appears(tmp_path: Path) -> None:
    path = tmp_path / "event-later"
    driver = HidScannerDriver(ScannerDevice(id="late", driver="hid", path=str(path), reopen_interval_s=0.05))
    stream = await started(driver)
    try:
        offline = await stream.state(DeviceState.OFFLINE)
        assert offline.device.problem
        sim = HidScannerSimulator(path, layout="us")
        sim.create()
        await stream.state(DeviceState.ONLINE)
        await sim.connect()
        await sim.scan("]C010101234564")
        assert (await stream.scan()).identifier == "10101234564"
        sim.close()
    finally:
        await stream.close()


async def test_gs_lost_by_the_scanner_is_flagged_not_repaired(hid_rig: Callable[..., Any]) -> None:
    sim, stream, _ = await hid_rig(layout="fr", gs_mode="drop")
    await sim.scan(MEDICINE)
    payload = await stream.scan()
    assert payload.raw == MEDICINE.replace("\x1d", "")
    assert payload.lot == "2AB4121H8KQ3P7W2M9"
    assert payload.problems == [Problem.MISSING_SEPARATOR_SUSPECTED]
    assert not payload.valid
