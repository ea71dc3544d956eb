"""A one-family, two-schema family for the services' unit tests (nothing to build, nothing to run)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from passerelle.daemon.driver import Driver, DriverContext
from passerelle.daemon.family import EventDeclaration, FamilyBase, FamilySection


class Scan(BaseModel):
    code: str


class ScanFamily(FamilyBase):
    name = "zscan"
    section_model = FamilySection
    # test.scan/2 is published by a driver without being declared: it goes to the family's name.
    events = (EventDeclaration("test.scan/1", Scan, "scan", "a test scan"),)

    def create_drivers(self, section: FamilySection, context: DriverContext) -> Sequence[Driver]:
        return []
