"""Byte sources the scanner drivers read from, with a read timeout (for the idle flush).

- ``EvdevSource``: a real event node, opened with python-evdev so it can be grabbed (EVIOCGRAB);
  its raw input_event bytes are read from the fd and decoded by our own state machine.
- ``FifoSource``: a named pipe of input_event records (the HID simulator, or a capture replayed).
- ``FileSource``: a regular file of records, followed like ``tail -f``.
A read returns bytes, ``None`` on timeout, or ``b""`` at end of stream; unplug raises OSError.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from typing import Protocol

READ_SIZE = 24 * 256
LED_CAPSL = 0x01  # linux/input-event-codes.h


class ByteSource(Protocol):
    async def read(self, timeout: float | None) -> bytes | None: ...

    def close(self) -> None: ...

    def active_keys(self) -> list[int] | None: ...

    def caps_lock(self) -> bool | None: ...


class _FdReader:
    """Level-triggered readiness of a non-blocking fd as an awaitable."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._ready = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self._ready.set)

    async def read(self, timeout: float | None) -> bytes | None:
        while True:
            if self._ready.is_set():
                try:
                    return os.read(self.fd, READ_SIZE)
                except BlockingIOError:
                    self._ready.clear()
                    continue
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None

    def close(self) -> None:
        self._loop.remove_reader(self.fd)


class EvdevSource:
    def __init__(self, path: str, grab: bool) -> None:
        import evdev  # imported here: the daemon runs without it for serial-only setups

        self.device = evdev.InputDevice(path)
        try:
            if grab:
                self.device.grab()
            self._reader = _FdReader(self.device.fd)
        except BaseException:
            self.device.close()
            raise

    async def read(self, timeout: float | None) -> bytes | None:
        return await self._reader.read(timeout)

    def active_keys(self) -> list[int] | None:
        return [int(code) for code in self.device.active_keys()]

    def caps_lock(self) -> bool | None:
        """The host's CapsLock LED: scanners type for a host that applies it, so we do too."""
        return LED_CAPSL in self.device.leds()

    def close(self) -> None:
        self._reader.close()
        with contextlib.suppress(OSError):  # not grabbed, or already gone (unplugged)
            self.device.ungrab()
        self.device.close()


class _RecordsOnly:
    """A pipe or file carries the input_event records only: no key or LED state to ask for."""

    def active_keys(self) -> list[int] | None:
        return None

    def caps_lock(self) -> bool | None:
        return None


class FifoSource(_RecordsOnly):
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self._reader = _FdReader(self.fd)

    async def read(self, timeout: float | None) -> bytes | None:
        return await self._reader.read(timeout)

    def close(self) -> None:
        self._reader.close()
        os.close(self.fd)


class FileSource(_RecordsOnly):
    POLL = 0.02

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in close()

    async def read(self, timeout: float | None) -> bytes | None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            data = self._file.read(READ_SIZE)
            if data:
                return data
            if deadline is not None and loop.time() >= deadline:
                return None
            await asyncio.sleep(self.POLL)

    def close(self) -> None:
        self._file.close()


def open_input_source(path: str, grab: bool) -> ByteSource:
    mode = os.stat(path).st_mode
    if stat.S_ISCHR(mode):
        return EvdevSource(path, grab)
    if stat.S_ISFIFO(mode):
        return FifoSource(path)
    return FileSource(path)
