"""What the HID and serial scanner drivers share: identity, availability, device path resolution, and
the reconnecting-device loop (open, read until unplugged, report, reopen) they both run."""

from __future__ import annotations

import errno
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Generic, TypeVar

from passerelle.daemon.backoff import Backoff
from passerelle.daemon.device_loop import DeviceLoop, DeviceStatus
from passerelle.daemon.driver import DeviceChange, DeviceInfo, DriverItem, RequestHandler
from passerelle.drivers.scanner.config import ScannerDevice
from passerelle.drivers.scanner.rules import DEFAULT_RULES, ScanRules

ConnectionT = TypeVar("ConnectionT")


class ScannerDriverBase(Generic[ConnectionT]):
    """A scanner driver is the device part of a ``DeviceLoop``: subclasses open, read and close the
    node (ConnectionT is what ``open_device`` returns) and give back what was buffered at a loss."""

    kind = "scanner"  # "hid" or "serial" in subclasses: the inventory's driver name
    end_of_stream = "end of stream"  # the offline reason when the node ends the stream by itself

    def __init__(self, device: ScannerDevice, rules: ScanRules = DEFAULT_RULES) -> None:
        self.config = device
        self.rules = rules  # the [scanner] section's content rules (nir_mode, QR patterns)
        self._interface = device.path or f"usb {device.usb}"
        self.device_loop: DeviceLoop[ConnectionT, DriverItem] = DeviceLoop(
            self, Backoff.fixed(device.reopen_interval_s), end_of_stream=self.end_of_stream
        )

    @property
    def name(self) -> str:
        return f"scanner/{self.config.id}"

    @property
    def interface(self) -> str:
        return self._interface

    def _info(self) -> DeviceInfo:
        status = self.device_loop.status
        return DeviceInfo(
            id=self.config.id,
            family="scanner",
            driver=self.kind,
            model=self.config.model,
            interface=self._interface,
            state=status.state,
            problem=status.problem,
        )

    def devices(self) -> Sequence[DeviceInfo]:
        return [self._info()]

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        return {}

    async def stop(self) -> None:
        return None

    def events(self) -> AsyncGenerator[DriverItem, None]:
        return self.device_loop.run()

    # -- the device part of the loop -------------------------------------------------------------

    async def open_device(self) -> ConnectionT:
        raise NotImplementedError

    def read_device(self, connection: ConnectionT) -> AsyncIterator[DriverItem]:
        raise NotImplementedError

    def close_device(self, connection: ConnectionT) -> None:
        raise NotImplementedError

    def drain(self) -> Iterable[DriverItem]:
        raise NotImplementedError

    def announce(self, status: DeviceStatus) -> DriverItem:
        return DeviceChange(self._info())  # _info() reads the status the loop has just recorded

    def describe(self, error: OSError) -> str:
        return str(error)

    def _resolve_path(self, find_by_usb_id: Callable[[str], str | None]) -> str:
        """The configured path, else the node of the configured VID:PID (it may come and go).
        Becomes the interface the inventory and the log lines show."""
        if self.config.path:
            self._interface = self.config.path
            return self.config.path
        assert self.config.usb is not None
        found = find_by_usb_id(self.config.usb)
        if found is None:
            raise FileNotFoundError(errno.ENOENT, f"no {self.kind} device with USB id {self.config.usb}")
        self._interface = found
        return found
