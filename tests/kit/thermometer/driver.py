"""Reads the lines a thermometer appends to its file (``21.5``), one event per line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence

from passerelle.daemon.driver import DeviceChange, DeviceInfo, DriverEvent, DriverItem, RequestHandler
from tests.kit.thermometer import READING_SCHEMA, Reading, ThermometerDevice


class ThermometerDriver:
    def __init__(self, device: ThermometerDevice, poll_seconds: float) -> None:
        self.config = device
        self.poll_seconds = poll_seconds
        self.device = DeviceInfo(
            id=device.id, family="thermometer", driver="file", interface=str(device.path)
        )
        self._offset = 0

    @property
    def name(self) -> str:
        return f"thermometer/{self.config.id}"

    async def start(self) -> None:
        # Readings written before the daemon started are history, not news.
        self._offset = self.config.path.stat().st_size if self.config.path.exists() else 0

    async def stop(self) -> None:
        return None

    def devices(self) -> Sequence[DeviceInfo]:
        return [self.device]

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        return {}

    async def events(self) -> AsyncIterator[DriverItem]:
        yield DeviceChange(self.device)
        pending = b""
        while True:
            await asyncio.sleep(self.poll_seconds)
            chunk = await asyncio.to_thread(self._read_new)
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                if line.strip():
                    yield DriverEvent(
                        device=self.device, schema=READING_SCHEMA, data=Reading(celsius=float(line))
                    )

    def _read_new(self) -> bytes:
        try:
            with self.config.path.open("rb") as file:
                file.seek(self._offset)
                chunk = file.read()
        except FileNotFoundError:
            return b""
        self._offset += len(chunk)
        return chunk
