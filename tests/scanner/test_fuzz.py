"""The decoder is total: a million seeded fuzz inputs through ``decode_text`` (in a subprocess, both
cores), and a few thousand through the real serial (pty) and HID (input_event file) drivers, each
giving exactly one scan event, in order, none a decoder error."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from passerelle.drivers.scanner.decode import decode_text
from passerelle.drivers.scanner.keymaps import LAYOUTS
from passerelle.drivers.scanner.payload import Problem, ScanPayload
from passerelle.simulators.scanner.fuzz import fuzz_inputs
from passerelle.simulators.scanner.keyboard import Typist

from .conftest import ItemStream

ROOT = Path(__file__).resolve().parents[2]
BATCH = 100


@pytest.mark.timeout(900)
def test_one_million_fuzzed_inputs_give_payloads_and_no_decoder_error() -> None:
    command = [sys.executable, "-m", "bench.scanner_fuzz", "--count", "1000000", "--seed", "2026"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=880, check=False)
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["count"] == 1_000_000
    assert (result["exceptions"], result["decoder_errors"]) == (0, 0), result["first_failures"]
    assert done.returncode == 0, done.stderr


def _framable(text: str) -> bool:
    """One scan on the wire: no terminator inside it, and not empty (an empty line is no scan)."""
    return bool(text) and not any(ch in text for ch in "\r\n\t")


def _typeable(text: str, layout: str) -> bool:
    """The simulated keyboard can type it and the HID driver will keep it as one scan."""
    if len(text) < 3 or not _framable(text) or any(ch < " " and ch not in "\x1d\x1e\x1f" for ch in text):
        return False
    try:
        Typist(LAYOUTS[layout]).type(text)
    except (ValueError, UnicodeEncodeError):
        return False
    return True


async def _receive_all(stream: ItemStream, expected: list[ScanPayload]) -> None:
    for want in expected:
        got = await stream.scan(timeout=20)
        assert Problem.DECODER_ERROR not in got.problems
        assert (got.raw, got.kind) == (want.raw, want.kind)


async def test_fuzzed_scans_through_the_serial_driver_none_lost(serial_rig: Callable[..., Any]) -> None:
    sim, stream, _ = await serial_rig()
    texts = [t for t in fuzz_inputs(77, 4000) if _framable(t)][:3000]
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        for text in batch:
            await sim.scan(text)
        await _receive_all(stream, [decode_text(text) for text in batch])
    assert stream.pending_scans() == []


async def test_fuzzed_scans_through_the_hid_driver_none_lost(hid_rig: Callable[..., Any]) -> None:
    sim, stream, _ = await hid_rig(layout="fr", fifo=False)
    texts = [t for t in fuzz_inputs(78, 6000) if _typeable(t, "fr")][:2000]
    assert any("²" in text for text in texts)  # the key left of 1 that used to lose three scans
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        for text in batch:
            await sim.scan(text, realtime=False)
        await _receive_all(stream, [decode_text(text) for text in batch])
    assert stream.pending_scans() == []
