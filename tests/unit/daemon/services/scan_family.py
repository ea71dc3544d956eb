"""A one-schema family for the services' unit tests (nothing to build, nothing to run)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from passerelle.daemon.driver import Driver, DriverContext
from passerelle.daemon.family import FamilySection
from tests.core.family_support import PlainFamily


class Scan(BaseModel):
    code: str


class ScanFamily(PlainFamily):
    name = "zscan"
    section_model = FamilySection
    event_models: Mapping[str, type[BaseModel]] = {"test.scan/1": Scan, "test.scan/2": Scan}
    channels: Mapping[str, str] = {"test.scan/1": "scan"}  # test.scan/2 goes to the family's name

    def create_drivers(self, section: FamilySection, context: DriverContext) -> Sequence[Driver]:
        return []
