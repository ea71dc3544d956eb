"""What a test driver does not need: nothing to start or stop, no requests. (A test family subclasses
the core's FamilyBase, which has the same defaults for families.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from passerelle.daemon.driver import DeviceInfo, RequestHandler


class PlainDriver:
    device: DeviceInfo

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def devices(self) -> Sequence[DeviceInfo]:
        return [self.device]

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        return {}
