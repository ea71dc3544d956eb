"""The ``[cpap]`` configuration section."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from passerelle.daemon.family import ConfigModel, FamilySection
from passerelle.drivers.cpap.exports import CsvMapping
from passerelle.drivers.cpap.observance import BoundaryRule


class CpapSource(ConfigModel):
    """One watched folder: where SD cards get mounted, or where export files are dropped."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="device id of the source (in topics)")
    kind: Literal["sdcard", "export"] = "sdcard"
    path: Path
    depth: int = Field(2, ge=0, le=3, description="folder levels below path where a card may appear")
    csv: CsvMapping = Field(default_factory=CsvMapping)
    fallback_poll_seconds: float = Field(60.0, gt=0, description="slow rescan when no inotify event came")
    settle_seconds: float = Field(0.5, ge=0, description="quiet time after the last change before reading")


class Prescription(ConfigModel):
    """Per device or per patient: start of coverage (period anchor) and prescription end."""

    device_serial: str | None = None
    patient_ref: str | None = None
    coverage_start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _keyed(self) -> Prescription:
        if not self.device_serial and not self.patient_ref:
            raise ValueError("a prescription needs device_serial or patient_ref")
        return self


class CpapSection(FamilySection):
    devices: list[CpapSource] = Field(default_factory=list)
    period_start: date | None = Field(None, description="default period anchor; default: first day of data")
    boundary_rule: BoundaryRule = "resmed_day"
    telemonitored: bool = True
    prescriptions: list[Prescription] = Field(default_factory=list)
    alert_lead_days: int = Field(183, ge=0, description="warn this many days before a prescription ends")

    def prescription_for(self, serial: str, patient_ref: str | None) -> Prescription | None:
        for p in self.prescriptions:
            if p.device_serial == serial or (patient_ref and p.patient_ref == patient_ref):
                return p
        return None
