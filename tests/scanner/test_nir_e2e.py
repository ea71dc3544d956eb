"""Thousands of NIR forms through the real serial (pty) and HID (input_event file) drivers, the
daemon and a real Mosquitto: no published byte and no log line holds one."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from passerelle.daemon.broker import PrivateBroker
from passerelle.drivers.scanner.keymaps import LAYOUTS
from passerelle.simulators.scanner.fuzz import nir_forms
from passerelle.simulators.scanner.hid_sim import HidScannerSimulator
from passerelle.simulators.scanner.keyboard import Typist
from passerelle.simulators.scanner.serial_sim import SerialScannerSimulator
from passerelle.testing.support import MqttCollector, Received, base_config, collect, inprocess_daemon

SCAN_TOPIC = "passerelle/test/scan"
BATCH = 100


class LogLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def every_log_line() -> Iterator[LogLines]:
    """Every record of every logger at DEBUG, formatted as the daemon would print it."""
    root, handler = logging.getLogger(), LogLines()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _bodies_seen(text: str) -> set[str]:
    """Every 13-character window of the digits (and Corsica's A/B) of ``text``, separators dropped:
    a NIR written any way shows up here."""
    kept = "".join(ch for ch in text if ch.isdigit() or ch in "AB")
    return {kept[i : i + 13] for i in range(len(kept) - 12)}


def _typeable(text: str) -> bool:
    try:
        Typist(LAYOUTS["fr"]).type(text)
    except (ValueError, UnicodeEncodeError):
        return False
    return True


class ScanCount:
    """How many messages arrived on the scan topic, counted once each as they come."""

    def __init__(self) -> None:
        self.read, self.count = 0, 0

    def at_least(self, wanted: int) -> Callable[[list[Received]], bool]:
        def check(messages: list[Received]) -> bool:
            self.count += sum(m.topic == SCAN_TOPIC for m in messages[self.read :])
            self.read = len(messages)
            return self.count >= wanted

        return check


def online(device: str) -> Callable[[list[Received]], bool]:
    topic = f"passerelle/test/{device}/availability"
    return lambda messages: any(m.topic == topic and m.json()["state"] == "online" for m in messages)


async def _await_scans(mqtt: MqttCollector, counter: ScanCount, wanted: int) -> None:
    await mqtt.wait_for(counter.at_least(wanted), timeout=60, what=f"{wanted} scans")


@pytest.mark.timeout(300)
async def test_generated_nir_forms_never_leave_in_clear(broker: PrivateBroker, tmp_path: Path) -> None:
    rng = random.Random(1975)
    serial_forms = [nir_forms(rng) for _ in range(2000)]
    hid_forms = [form for form in (nir_forms(rng) for _ in range(2500)) if _typeable(form[0])][:1000]
    bodies = {body for _, body in serial_forms + hid_forms}
    assert all(_bodies_seen(text) & bodies for text, _ in serial_forms + hid_forms)  # the check sees them
    hid = HidScannerSimulator(tmp_path / "event-hid", layout="fr", fifo=False)
    hid.create()
    with SerialScannerSimulator(tmp_path / "ttyscan") as serial_sim, every_log_line() as logs:
        config = base_config(
            broker.port,
            tmp_path / "state",
            scanner={
                "devices": [
                    {"id": "counter-serial", "driver": "serial", "path": str(serial_sim.link)},
                    {"id": "counter-hid", "driver": "hid", "path": str(hid.path), "layout": "fr"},
                ]
            },
            logging={"level": "DEBUG", "format": "json"},
        )
        async with collect(broker.host, broker.port, "passerelle/test/#") as mqtt, inprocess_daemon(config):
            for device in ("counter-serial", "counter-hid"):
                await mqtt.wait_for(online(device), what=f"{device} online")
            counter = ScanCount()
            await hid.connect()
            sent = 0
            for start in range(0, len(serial_forms), BATCH):
                for text, _ in serial_forms[start : start + BATCH]:
                    await serial_sim.scan(text)
                sent += len(serial_forms[start : start + BATCH])
                await _await_scans(mqtt, counter, sent)
            for start in range(0, len(hid_forms), BATCH):
                for text, _ in hid_forms[start : start + BATCH]:
                    await hid.scan(text, realtime=False)
                sent += len(hid_forms[start : start + BATCH])
                await _await_scans(mqtt, counter, sent)
            hid.close()

    scans = [m.json() for m in mqtt.on(SCAN_TOPIC)]
    assert len(scans) == len(serial_forms) + len(hid_forms)
    assert all(scan["data"]["redacted"] for scan in scans)
    assert {scan["device"]["id"] for scan in scans} == {"counter-serial", "counter-hid"}
    leaked = [m.topic for m in mqtt.messages if _bodies_seen(m.payload.decode("utf-8", "replace")) & bodies]
    assert leaked == []
    assert logs.lines  # the daemon did log (startup, connections): the check below saw real lines
    assert [line for line in logs.lines if _bodies_seen(line) & bodies] == []
