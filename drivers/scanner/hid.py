"""HID keyboard-wedge scanner driver: event node (or simulator FIFO/file) -> scan events."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime

from passerelle.daemon.driver import DriverEvent, DriverItem
from passerelle.drivers.scanner.base import ScannerDriverBase
from passerelle.drivers.scanner.config import TERMINATOR_CHARS, ScannerDevice
from passerelle.drivers.scanner.decode import DEFAULT_GS_STAND_INS, decode_text
from passerelle.drivers.scanner.discovery import resolve_usb_input
from passerelle.drivers.scanner.keymaps import LAYOUTS
from passerelle.drivers.scanner.keystream import EVENT_SIZE, KeyScan, KeyStreamDecoder
from passerelle.drivers.scanner.payload import SCAN_SCHEMA, Problem, ScanPayload
from passerelle.drivers.scanner.rules import DEFAULT_RULES, ScanRules
from passerelle.drivers.scanner.sources import ByteSource, open_input_source


def occurred_at(event_time: float) -> datetime:
    """Kernel event time when it is wall-clock time (evdev's default clock), else now."""
    now = time.time()
    return datetime.fromtimestamp(event_time if abs(event_time - now) < 3600 else now, UTC)


def keyscan_payload(
    scan: KeyScan,
    stand_ins: Iterable[str] = DEFAULT_GS_STAND_INS,
    allow_nir: bool = False,
    rules: ScanRules = DEFAULT_RULES,
) -> ScanPayload:
    """The payload of one keyboard-wedge scan (shared with ``passerelle decode --from-evdev``)."""
    return decode_text(
        scan.text, problems=scan.problems, stand_ins=stand_ins, allow_nir=allow_nir, rules=rules
    )


def key_decoder(
    layout: str, terminator: str, idle_flush_ms: int, min_length: int, max_length: int = 4096
) -> KeyStreamDecoder:
    """The decoder for these settings: one constructor so the driver and ``passerelle decode
    --from-evdev`` cannot drift apart."""
    return KeyStreamDecoder(
        LAYOUTS[layout],
        terminators=TERMINATOR_CHARS[terminator],
        idle_gap=idle_flush_ms / 1000,
        min_length=min_length,
        max_length=max_length,
    )


def decode_evdev_stream(
    data: bytes, layout: str, terminator: str = "cr", idle_flush_ms: int = 100, min_length: int = 3
) -> list[ScanPayload]:
    """Every scan in a recorded stream of input_event records, through the driver's decoder."""
    decoder = key_decoder(layout, terminator, idle_flush_ms, min_length)
    scans = decoder.feed(data)
    tail = decoder.flush(Problem.TRUNCATED if len(data) % EVENT_SIZE else Problem.TERMINATOR_MISSING)
    return [keyscan_payload(scan) for scan in [*scans, *([tail] if tail else [])]]


class HidScannerDriver(ScannerDriverBase[ByteSource]):
    kind = "hid"

    def __init__(self, device: ScannerDevice, rules: ScanRules = DEFAULT_RULES) -> None:
        super().__init__(device, rules)
        self.decoder = self._new_decoder()

    def _new_decoder(self) -> KeyStreamDecoder:
        cfg = self.config
        return key_decoder(cfg.layout, cfg.terminator, cfg.idle_flush_ms, cfg.min_length, cfg.max_length)

    async def start(self) -> None:
        self.decoder = self._new_decoder()

    def _event(self, scan: KeyScan) -> DriverEvent:
        payload = keyscan_payload(scan, self.config.gs_stand_ins, self.config.publish_nir, self.rules)
        return DriverEvent(
            device=self._info(), schema=SCAN_SCHEMA, data=payload, occurred_at=occurred_at(scan.ended_at)
        )

    # -- the device part of the reconnecting loop (see ScannerDriverBase) -------------------------

    async def open_device(self) -> ByteSource:
        return open_input_source(self._resolve_path(resolve_usb_input), self.config.grab)

    async def read_device(self, source: ByteSource) -> AsyncIterator[DriverItem]:
        caps = source.caps_lock()
        if caps is not None:
            self.decoder.set_caps_lock(caps)
        async for scan in self._pump(source):
            yield self._event(scan)

    def close_device(self, source: ByteSource) -> None:
        source.close()

    def drain(self) -> Iterable[DriverItem]:
        tail = self.decoder.flush(Problem.TRUNCATED)
        return [] if tail is None else [self._event(tail)]

    def describe(self, error: OSError) -> str:
        return error.strerror or str(error)

    async def _pump(self, source: ByteSource) -> AsyncIterator[KeyScan]:
        idle = self.config.idle_flush_ms / 1000
        while True:
            data = await source.read(idle if self.decoder.idle_deadline() is not None else None)
            if data is None:
                scan = self.decoder.flush()
                if scan is not None:
                    yield scan
                continue
            if not data:
                return
            dropped = self.decoder.stats.syn_dropped
            scans = self.decoder.feed(data)
            if self.decoder.stats.syn_dropped != dropped:
                keys = source.active_keys()
                if keys is not None:
                    self.decoder.resync(keys)
            for scan in scans:
                yield scan
