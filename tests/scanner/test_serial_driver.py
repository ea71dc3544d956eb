"""Serial driver on a real pseudo-terminal: framing, encoding problems, hang-up and replug."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

from passerelle.daemon.driver import DeviceState
from passerelle.drivers.scanner.payload import Problem
from passerelle.testing.support import wait_until

MEDICINE = "]d2010340093000023617280200102AB41\x1d21H8KQ3P7W2M9"


async def test_scan_arrives_with_gs_and_aim_kept(serial_rig: Callable[..., Any]) -> None:
    sim, stream, driver = await serial_rig()
    await sim.scan(MEDICINE)
    payload = await stream.scan()
    assert payload.raw == MEDICINE
    assert (payload.kind, payload.symbology, payload.cip13, payload.serial) == (
        "gs1",
        "]d2",
        "3400930000236",
        "H8KQ3P7W2M9",
    )
    assert driver.devices()[0].state == DeviceState.ONLINE


async def test_crlf_gives_no_empty_scans_and_tab_terminator(serial_rig: Callable[..., Any]) -> None:
    sim, stream, _ = await serial_rig()
    await sim.scan("3400930000236", terminator=b"\r\n")
    await sim.scan("3401560012347", terminator=b"\r\n")
    assert (await stream.scan()).kind == "cip13"
    assert (await stream.scan()).kind == "acl13"
    sim_tab, stream_tab, _ = await serial_rig(terminator="tab")
    await sim_tab.scan("10101234564\r", terminator=b"\t")
    assert (await stream_tab.scan()).raw == "10101234564\r"


async def test_trickled_bytes_make_one_scan(serial_rig: Callable[..., Any]) -> None:
    sim, stream, _ = await serial_rig()
    await sim.scan("]C010101234564", byte_interval=0.002)
    payload = await stream.scan()
    assert (payload.kind, payload.identifier) == ("rpps", "10101234564")


async def test_missing_terminator_is_flushed_after_idle_gap(serial_rig: Callable[..., Any]) -> None:
    sim, stream, _ = await serial_rig(idle_flush_ms=50)
    await sim.scan("3400930000236", terminator=b"")
    payload = await stream.scan()
    assert payload.raw == "3400930000236"
    assert payload.problems == [Problem.TERMINATOR_MISSING]
    assert payload.valid  # how it arrived, not what it says


async def test_non_utf8_bytes(serial_rig: Callable[..., Any]) -> None:
    sim, stream, _ = await serial_rig()
    await sim.scan(b"LOT\xe9\xff42")
    payload = await stream.scan()
    assert Problem.NOT_UTF8 in payload.problems
    assert not payload.valid


async def test_4kb_garbage_line_then_a_good_scan(serial_rig: Callable[..., Any]) -> None:
    sim, stream, _ = await serial_rig()
    rng = random.Random(4096)
    garbage = bytes(rng.choice([b for b in range(256) if b not in (10, 13)]) for _ in range(4096))
    await sim.scan(garbage)
    payload = await stream.scan()
    assert payload.problems  # typed, e.g. not_utf8 / control_character
    assert not payload.valid
    await sim.scan(garbage + garbage)  # over max_length: cut, flagged
    assert Problem.TOO_LONG in (await stream.scan()).problems
    await sim.scan(MEDICINE)
    assert (await stream.scan()).valid


async def test_hang_up_and_replug_are_recovered(serial_rig: Callable[..., Any]) -> None:
    sim, stream, driver = await serial_rig()
    first_tty = sim.slave_path
    await sim.scan("3400930000236")
    await stream.scan()
    sim.replug()  # pty closed; a new one behind the same by-id-like link
    offline = await stream.state(DeviceState.OFFLINE)
    assert offline.device.id == "counter-serial"
    await stream.state(DeviceState.ONLINE)
    assert sim.slave_path != first_tty
    await sim.scan(MEDICINE)
    assert (await stream.scan()).serial == "H8KQ3P7W2M9"
    assert driver.devices()[0].state == DeviceState.ONLINE


async def test_unplugged_for_a_while_then_back(serial_rig: Callable[..., Any]) -> None:
    sim, stream, driver = await serial_rig(idle_flush_ms=5000)
    await sim.scan("ABC123", terminator=b"")  # a scan cut by the unplug
    # Read by the driver first: a pty drops unread input on close.
    await wait_until(lambda: driver.framer.pending, 5.0, "the driver to read the bytes", interval=0.002)
    sim.close()
    os.unlink(sim.link)
    cut = await stream.scan()
    assert cut.raw == "ABC123"
    assert Problem.TRUNCATED in cut.problems
    await stream.state(DeviceState.OFFLINE)
    sim.open()
    await stream.state(DeviceState.ONLINE)
    await sim.scan("3400930000236")
    assert (await stream.scan()).kind == "cip13"


async def test_superscript_two_costs_no_scan(serial_rig: Callable[..., Any]) -> None:
    # "²" (left of 1 on a French keyboard) is str.isdigit() but no digit for int(): it used to raise
    # in the decoder and the driver lost that scan and the ones after it.
    sim, stream, _ = await serial_rig()
    await sim.scan("]d2010340093000023617²80229")
    await sim.scan(MEDICINE)
    await sim.scan(MEDICINE)
    first = await stream.scan()
    # ² is outside the date's character set: a bad date, reported, and no scan lost.
    assert (first.kind, first.valid) == ("gs1", False)
    assert set(first.problems) & {Problem.INVALID_DATE, Problem.INVALID_CHARACTER}
    assert [(await stream.scan()).raw for _ in range(2)] == [MEDICINE, MEDICINE]
