"""CPAP observance family: ResMed SD cards and export files -> French 28-day observance events."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from passerelle.daemon.driver import Driver, DriverContext
from passerelle.daemon.family import CliCommands, DoctorCheck, FamilySection
from passerelle.drivers.cpap.config import CpapSection
from passerelle.drivers.cpap.events import (
    DAY_SCHEMA,
    IMPORT_SCHEMA,
    PERIOD_SCHEMA,
    RENEWAL_SCHEMA,
    DayData,
    ImportData,
    PeriodData,
    RenewalData,
)


class CpapFamily:
    @property
    def name(self) -> str:
        return "cpap"

    @property
    def section_model(self) -> type[FamilySection]:
        return CpapSection

    @property
    def event_models(self) -> Mapping[str, type[BaseModel]]:
        return {
            DAY_SCHEMA: DayData,
            PERIOD_SCHEMA: PeriodData,
            RENEWAL_SCHEMA: RenewalData,
            IMPORT_SCHEMA: ImportData,
        }

    @property
    def channels(self) -> Mapping[str, str]:
        # One topic carries the four schemas; consumers tell them apart by the envelope's "schema".
        return dict.fromkeys((DAY_SCHEMA, PERIOD_SCHEMA, RENEWAL_SCHEMA, IMPORT_SCHEMA), "observance")

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
