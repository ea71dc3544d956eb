"""CPAP observance family: ResMed SD cards and export files -> French 28-day observance events."""

from __future__ import annotations

import os
from collections.abc import Sequence

from passerelle.daemon.driver import Driver, DriverContext
from passerelle.daemon.family import CliCommands, DoctorCheck, FamilyBase, FamilySection
from passerelle.drivers.cpap.config import CpapSection
from passerelle.drivers.cpap.events import EVENTS


class CpapFamily(FamilyBase):
    name = "cpap"
    section_model = CpapSection
    events = EVENTS

    def create_drivers(self, section: FamilySection, context: DriverContext) -> Sequence[Driver]:
        from passerelle.drivers.cpap.driver import ObservanceDriver

        assert isinstance(section, CpapSection)
        return [ObservanceDriver(source, section, context) for source in section.devices]

    def add_cli_commands(self, commands: CliCommands) -> None:
        from passerelle.drivers.cpap.cli import add_commands

        add_commands(commands)

    def doctor(self, section: FamilySection | None) -> Sequence[DoctorCheck]:
        checks = []
        try:
            import edfio

            checks.append(DoctorCheck("cpap: edfio", True, f"edfio {edfio.__version__}"))
        except ImportError as exc:  # pragma: no cover - the dependency is locked
            checks.append(DoctorCheck("cpap: edfio", False, str(exc), "uv sync"))
        if isinstance(section, CpapSection):
            for source in section.devices:
                path = source.path
                ok = path.is_dir() and os.access(path, os.R_OK | os.X_OK)
                checks.append(
                    DoctorCheck(
                        f"cpap: {source.id} folder",
                        ok,
                        f"{path} {'readable' if ok else 'missing or unreadable'}",
                        None if ok else f"mkdir -p {path} (and mount SD cards below it)",
                    )
                )
        return checks


FAMILY = CpapFamily()
