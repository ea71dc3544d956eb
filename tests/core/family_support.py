"""What a test family or driver does not need: no commands, no doctor checks, no requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from passerelle.daemon.driver import DeviceInfo, RequestHandler
from passerelle.daemon.family import CliCommands, DoctorCheck, FamilySection


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


class PlainFamily:
    def add_cli_commands(self, commands: CliCommands) -> None:
        return None

    def doctor(self, section: FamilySection | None) -> Sequence[DoctorCheck]:
        return []
