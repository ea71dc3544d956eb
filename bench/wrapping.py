"""Benchmarks time the commit of real drivers' events by wrapping them: these pass everything else
through unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from passerelle.daemon.driver import DeviceInfo, Driver, DriverContext, DriverItem, RequestHandler
from passerelle.daemon.family import CliCommands, DoctorCheck, Family, FamilySection


class DelegatingDriver:
    """A driver that is another driver; subclasses override ``events`` to observe what it yields."""

    def __init__(self, inner: Driver) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    async def start(self) -> None:
        await self.inner.start()

    async def stop(self) -> None:
        await self.inner.stop()

    def devices(self) -> Sequence[DeviceInfo]:
        return self.inner.devices()

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        return self.inner.request_handlers()

    def events(self) -> AsyncIterator[DriverItem]:
        return self.inner.events()


class DelegatingFamily:
    """A family whose drivers are wrapped by ``wrap``; everything else is the real family."""

    def __init__(self, inner: Family, wrap: Any) -> None:
        self.inner = inner
        self.wrap = wrap
        self.name = inner.name
        self.section_model = inner.section_model
        self.events = inner.events
        self.drivers: list[Driver] = []  # the wrapped drivers, once created

    def create_drivers(self, section: FamilySection, context: DriverContext) -> Sequence[Driver]:
        self.drivers = [self.wrap(d) for d in self.inner.create_drivers(section, context)]
        return self.drivers

    def add_cli_commands(self, commands: CliCommands) -> None:
        self.inner.add_cli_commands(commands)

    def doctor(self, section: FamilySection | None) -> Sequence[DoctorCheck]:
        return self.inner.doctor(section)
