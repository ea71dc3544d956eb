"""A scanner in virtual-COM / SPP mode, on a real pseudo-terminal pair.

The driver opens the pty's slave path exactly like /dev/ttyACM0. ``link`` is a stable symlink to
the current slave, like /dev/serial/by-id/…: ``replug()`` closes the pty (the driver sees the
hang-up) and creates a new one behind the same link, as a USB replug gives a new ttyACMn.
"""

from __future__ import annotations

import asyncio
import os
import pty
import tty
from pathlib import Path


class SerialScannerSimulator:
    def __init__(self, link: Path) -> None:
        self.link = link
        self.master: int | None = None
        self._slave: int | None = None

    @property
    def slave_path(self) -> str:
        assert self._slave is not None, "simulator not open"
        return os.ttyname(self._slave)

    def open(self) -> None:
        master, slave = pty.openpty()
        tty.setraw(slave)  # no CR->LF mapping or echo before the driver configures the port
        os.set_blocking(master, False)  # a full pty (nobody reading) must not block the event loop
        self.master, self._slave = master, slave
        tmp = self.link.with_name(self.link.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(self.slave_path)
        os.replace(tmp, self.link)

    def close(self) -> None:
        """Hang up: the reader of the slave gets EIO."""
        for fd in (self.master, self._slave):
            if fd is not None:
                os.close(fd)
        self.master = self._slave = None

    def replug(self) -> None:
        self.close()
        self.open()

    def write(self, data: bytes) -> None:
        """Raises BlockingIOError when nobody drains the pty and its buffer is full."""
        assert self.master is not None, "simulator not open"
        view = memoryview(data)
        while view:
            written = os.write(self.master, view)
            view = view[written:]

    async def scan(self, text: str | bytes, terminator: bytes = b"\r", byte_interval: float = 0.0) -> None:
        """Send one scan; ``byte_interval`` > 0 trickles bytes like a slow Bluetooth link."""
        data = (text.encode() if isinstance(text, str) else text) + terminator
        if byte_interval <= 0:
            self.write(data)
            return
        for i in range(len(data)):
            self.write(data[i : i + 1])
            await asyncio.sleep(byte_interval)

    def __enter__(self) -> SerialScannerSimulator:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self.link.unlink(missing_ok=True)
