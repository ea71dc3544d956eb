"""Serial scanner driver: USB CDC-ACM virtual COM, Bluetooth SPP (rfcomm), or a pty.

Raw bytes arrive unchanged (GS, AIM prefix, UTF-8), which is why this is the recommended mode.
pyserial configures the port; pyserial-asyncio-fast gives the asyncio transport (see
docs/scanners.md for the choice). A hang-up (unplug, Bluetooth drop, pty closed) is recovered by
reopening the configured path — a by-id symlink follows the device to its new ttyACMn.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime

import serial_asyncio_fast

from passerelle.daemon.driver import DriverEvent, DriverItem
from passerelle.drivers.scanner.base import ScannerDriverBase
from passerelle.drivers.scanner.config import ScannerDevice
from passerelle.drivers.scanner.decode import decode_bytes
from passerelle.drivers.scanner.discovery import resolve_usb_serial
from passerelle.drivers.scanner.framing import SerialFramer
from passerelle.drivers.scanner.payload import SCAN_SCHEMA, Problem
from passerelle.drivers.scanner.rules import DEFAULT_RULES, ScanRules

SerialLink = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class SerialScannerDriver(ScannerDriverBase[SerialLink]):
    kind = "serial"
    end_of_stream = "hang-up"

    def __init__(self, device: ScannerDevice, rules: ScanRules = DEFAULT_RULES) -> None:
        super().__init__(device, rules)
        self.framer = SerialFramer(device.terminator, device.max_length)

    async def start(self) -> None:
        self.framer = SerialFramer(self.config.terminator, self.config.max_length)

    def _event(self, frame: tuple[bytes, list[Problem]], when: float) -> DriverEvent:
        data, problems = frame
        payload = decode_bytes(
            data,
            problems=problems,
            stand_ins=self.config.gs_stand_ins,
            allow_nir=self.config.publish_nir,
            rules=self.rules,
        )
        return DriverEvent(
            device=self._info(),
            schema=SCAN_SCHEMA,
            data=payload,
            occurred_at=datetime.fromtimestamp(when, UTC),
        )

    # -- the device part of the reconnecting loop (see ScannerDriverBase) -------------------------

    async def open_device(self) -> SerialLink:
        cfg = self.config
        # pyserial's SerialException (cannot open, no such port) is an OSError.
        return await serial_asyncio_fast.open_serial_connection(
            url=self._resolve_path(resolve_usb_serial),
            baudrate=cfg.baud,
            bytesize=cfg.bytesize,
            parity=cfg.parity,
            stopbits=cfg.stopbits,
        )

    def read_device(self, link: SerialLink) -> AsyncIterator[DriverItem]:
        return self._pump(link[0])

    def close_device(self, link: SerialLink) -> None:
        link[1].close()

    def drain(self) -> Iterable[DriverItem]:
        tail = self.framer.flush(Problem.TRUNCATED)
        return [] if tail is None else [self._event(tail, time.time())]

    async def _pump(self, reader: asyncio.StreamReader) -> AsyncIterator[DriverEvent]:
        idle = self.config.idle_flush_ms / 1000
        while True:
            try:
                data = await asyncio.wait_for(reader.read(4096), idle if self.framer.pending else None)
            except TimeoutError:
                frame = self.framer.flush()
                if frame is not None:
                    yield self._event(frame, time.time())
                continue
            if not data:
                return
            now = time.time()
            for frame in self.framer.feed(data):
                yield self._event(frame, now)
