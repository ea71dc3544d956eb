"""What the HID and serial scanner drivers share: identity, availability, device path resolution."""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping, Sequence

from passerelle.daemon.driver import DeviceChange, DeviceInfo, DeviceState, RequestHandler
from passerelle.drivers.scanner.config import ScannerDevice
from passerelle.drivers.scanner.rules import DEFAULT_RULES, ScanRules


class ScannerDriverBase:
    kind = "scanner"  # "hid" or "serial" in subclasses: the inventory's driver name

    def __init__(self, device: ScannerDevice, rules: ScanRules = DEFAULT_RULES) -> None:
        self.config = device
        self.rules = rules  # the [scanner] section's content rules (nir_mode, QR patterns)
        self._state = DeviceState.OFFLINE
        self._problem: str | None = "not opened yet"
        self._interface = device.path or f"usb {device.usb}"

    @property
    def name(self) -> str:
        return f"scanner/{self.config.id}"

    def _info(self) -> DeviceInfo:
        return DeviceInfo(
            id=self.config.id,
            family="scanner",
            driver=self.kind,
            model=self.config.model,
            interface=self._interface,
            state=self._state,
            problem=self._problem,
        )

    def devices(self) -> Sequence[DeviceInfo]:
        return [self._info()]

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        return {}

    async def stop(self) -> None:
        return None

    def _change(self, state: DeviceState, problem: str | None) -> DeviceChange:
        self._state, self._problem = state, problem
        return DeviceChange(self._info())

    def _resolve_path(self, find_by_usb_id: Callable[[str], str | None]) -> str:
        """The configured path, else the node of the configured VID:PID (it may come and go)."""
        if self.config.path:
            return self.config.path
        assert self.config.usb is not None
        found = find_by_usb_id(self.config.usb)
        if found is None:
            raise FileNotFoundError(errno.ENOENT, f"no {self.kind} device with USB id {self.config.usb}")
        return found
