"""One reconnecting-device loop for every driver that reads a device node that may come and go.

A keyboard-wedge scanner's event node, a virtual COM port, a Bluetooth rfcomm link: each is opened,
read until it goes away (unplugged, hung up, end of stream), reported offline with the reason, and
opened again. The loop is the same for all of them; what differs (how to open, read, close, what a
failure is called, what was still buffered when the device left) is the device's part.

Timings: after a loss the device is reopened at once (a replugged scanner is back within
milliseconds); only a failed open waits, for the next delay of the given ``Backoff``, which a
successful open resets. A device that stays away is announced offline once, not at every attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from passerelle.daemon.backoff import Backoff
from passerelle.daemon.driver import DeviceState

log = logging.getLogger(__name__)

ConnectionT = TypeVar("ConnectionT")
ItemT = TypeVar("ItemT")
ItemT_co = TypeVar("ItemT_co", covariant=True)


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """What the inventory and health show of the device: its state and, when offline, why."""

    state: DeviceState
    problem: str | None


NOT_OPENED = DeviceStatus(DeviceState.OFFLINE, "not opened yet")


class ReconnectingDevice(Protocol[ConnectionT, ItemT_co]):
    """The device's part of the loop. ``open`` and a read raise OSError when the device is absent or
    goes away; any other exception is a bug and ends the loop (the supervisor restarts the driver)."""

    @property
    def name(self) -> str:
        """For log lines, e.g. "scanner/counter-1"."""
        ...

    @property
    def interface(self) -> str:
        """The node being opened, for log lines (after ``open`` has chosen it)."""
        ...

    async def open_device(self) -> ConnectionT: ...

    def read_device(self, connection: ConnectionT) -> AsyncIterator[ItemT_co]:
        """Items until the device ends the stream (return) or goes away (OSError)."""
        ...

    def close_device(self, connection: ConnectionT) -> None: ...

    def drain(self) -> Iterable[ItemT_co]:
        """What was still buffered when the device went away (e.g. a scan cut by the unplug)."""
        ...

    def announce(self, status: DeviceStatus) -> ItemT_co:
        """The item that tells the core about a status change (availability, inventory)."""
        ...

    def describe(self, error: OSError) -> str:
        """The failure as the logs and the device's ``problem`` show it."""
        ...


class DeviceLoop(Generic[ConnectionT, ItemT]):
    """Runs one device: ``run()`` yields its items and status changes until cancelled.

    ``status`` is the device's current status, kept here so that the inventory can read it before,
    between and after runs (a supervisor restart starts a new ``run()`` on the same loop).
    """

    def __init__(
        self,
        device: ReconnectingDevice[ConnectionT, ItemT],
        backoff: Backoff,
        *,
        end_of_stream: str = "end of stream",
    ) -> None:
        self.device = device
        self.backoff = backoff
        self.end_of_stream = end_of_stream  # the reason when the device ends the stream itself
        self.status = NOT_OPENED

    def _report(self, state: DeviceState, problem: str | None) -> ItemT:
        self.status = DeviceStatus(state, problem)
        return self.device.announce(self.status)

    async def run(self) -> AsyncGenerator[ItemT, None]:
        device = self.device
        self.backoff.reset()
        announced_offline = False
        while True:
            try:
                connection = await device.open_device()
            except OSError as exc:
                if not announced_offline:
                    reason = device.describe(exc)
                    log.warning("%s: cannot open %s: %s", device.name, device.interface, reason)
                    yield self._report(DeviceState.OFFLINE, reason)
                    announced_offline = True
                await asyncio.sleep(self.backoff.next_delay())
                continue
            self.backoff.reset()
            reason = self.end_of_stream
            try:
                # Inside the try: a consumer that stops right after "online" still closes the device.
                yield self._report(DeviceState.ONLINE, None)
                async for item in device.read_device(connection):
                    yield item
            except OSError as exc:  # ENODEV, EIO: unplugged, hung up
                reason = device.describe(exc)
                log.warning("%s: %s lost: %s", device.name, device.interface, reason)
            finally:
                device.close_device(connection)
            for item in device.drain():
                yield item
            yield self._report(DeviceState.OFFLINE, reason)
            announced_offline = True
