"""Serial scanner driver: USB CDC-ACM virtual COM, Bluetooth SPP (rfcomm), or a pty.

Raw bytes arrive unchanged (GS, AIM prefix, UTF-8), which is why this is the recommended mode.
pyserial configures the port; pyserial-asyncio-fast gives the asyncio transport (see
docs/scanners.md for the choice). A hang-up (unplug, Bluetooth drop, pty closed) is recovered by
reopening the configured path — a by-id symlink follows the device to its new ttyACMn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import serial_asyncio_fast

from passerelle.daemon.driver import DeviceState, DriverEvent, DriverItem
from passerelle.drivers.scanner.base import ScannerDriverBase
from passerelle.drivers.scanner.config import ScannerDevice
from passerelle.drivers.scanner.decode import decode_bytes
from passerelle.drivers.scanner.discovery import resolve_usb_serial
from passerelle.drivers.scanner.framing import SerialFramer
from passerelle.drivers.scanner.payload import SCAN_SCHEMA, Problem
from passerelle.drivers.scanner.rules import DEFAULT_RULES, ScanRules

log = logging.getLogger(__name__)


class SerialScannerDriver(ScannerDriverBase):
    kind = "serial"

    def __init__(self, device: ScannerDevice, rules: ScanRules = DEFAULT_RULES) -> None:
        super().__init__(device, rules)
        self.framer = SerialFramer(device.terminator, device.max_length)

    async def start(self) -> None:
        self.framer = SerialFramer(self.config.terminator, self.config.max_length)

    def _path(self) -> str:
        return self._resolve_path(resolve_usb_serial)

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

    async def _open(self, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        cfg = self.config
        reader, writer = await serial_asyncio_fast.open_serial_connection(
            url=path, baudrate=cfg.baud, bytesize=cfg.bytesize, parity=cfg.parity, stopbits=cfg.stopbits
        )
        return reader, writer

    async def events(self) -> AsyncIterator[DriverItem]:
        announced_offline = False
        while True:
            try:
                path = self._path()
                self._interface = path
                reader, writer = await self._open(path)
            except OSError as exc:  # pyserial's SerialException is an OSError
                if not announced_offline:
                    log.warning("%s: cannot open %s: %s", self.name, self._interface, exc)
                    yield self._change(DeviceState.OFFLINE, str(exc))
                    announced_offline = True
                await asyncio.sleep(self.config.reopen_interval_s)
                continue
            announced_offline = False
            yield self._change(DeviceState.ONLINE, None)
            problem = "hang-up"
            try:
                async for item in self._pump(reader):
                    yield item
            except OSError as exc:
                problem = str(exc)
                log.warning("%s: %s lost: %s", self.name, self._interface, problem)
            finally:
                writer.close()
            tail = self.framer.flush(Problem.TRUNCATED)
            if tail is not None:
                yield self._event(tail, time.time())
            yield self._change(DeviceState.OFFLINE, problem)
            announced_offline = True

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
