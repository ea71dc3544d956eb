"""A scanner in HID keyboard mode, writing real input_event records into a FIFO or a file.

The HID driver reads that path as if it were /dev/input/eventN. Typing goes through the scanner's
keyboard-language table (Shift/AltGr, Ctrl+] or Alt+0,2,9 for GS) at ~3 ms per key.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
import time
from pathlib import Path

from passerelle.drivers.scanner.keymaps import LAYOUTS
from passerelle.simulators.scanner.keyboard import GsMode, RawEvent, Typist, pack


class HidScannerSimulator:
    def __init__(self, path: Path, layout: str = "fr", gs_mode: GsMode = "ctrl", fifo: bool = True) -> None:
        self.path = path
        self.typist = Typist(LAYOUTS[layout], gs_mode=gs_mode)
        self.fifo = fifo
        self._fd: int | None = None

    def create(self) -> None:
        if self.fifo:
            if self.path.exists() and not stat.S_ISFIFO(self.path.stat().st_mode):
                self.path.unlink()
            if not self.path.exists():
                os.mkfifo(self.path)
        else:
            self.path.touch()

    async def connect(self, timeout: float = 10.0) -> None:
        """Open for writing; for a FIFO, wait until the driver has it open for reading."""
        flags = os.O_WRONLY | os.O_NONBLOCK | (0 if self.fifo else os.O_APPEND)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._fd = os.open(self.path, flags)
            except OSError as exc:
                if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.01)
                continue
            os.set_blocking(self._fd, True)
            return

    @property
    def connected(self) -> bool:
        return self._fd is not None

    def disconnect(self) -> None:
        """Close the writing end: the driver sees end of stream (unplug of a FIFO-backed scanner)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def write_events(self, events: list[RawEvent]) -> None:
        assert self._fd is not None, "connect() first"
        data = memoryview(pack(events))
        while data:
            written = os.write(self._fd, data)
            data = data[written:]

    async def scan(self, text: str, terminator: str | None = "\r", realtime: bool = True) -> float:
        """Type one scan. ``realtime`` paces key taps like the scanner; otherwise the records (with
        their 3 ms-apart timestamps) are written at once. Returns the time of the last key event."""
        self.typist.now = max(self.typist.now, time.time())
        events = self.typist.type(text, terminator)
        if not realtime:
            self.write_events(events)
            return events[-1][0]
        # Send one key tap (modifiers, down, up, SYN_REPORTs: < 1 ms apart) at a time, at the pace
        # of the event timestamps.
        start_clock, start_event = time.time(), events[0][0]
        batch: list[RawEvent] = []
        for event in events:
            if batch and event[0] - batch[-1][0] > 0.001:
                self.write_events(batch)
                batch = []
                delay = (event[0] - start_event) - (time.time() - start_clock)
                if delay > 0:
                    await asyncio.sleep(delay)
            batch.append(event)
        self.write_events(batch)
        return events[-1][0]

    def close(self) -> None:
        self.disconnect()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
