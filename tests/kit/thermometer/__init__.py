"""Room thermometers that append readings to a text file: the family kit's own test fixture.

Not a product family: it exists to show (docs/adding-a-family.md) and test (tests/kit/) the least a
family declares. Its entry point is installed only by the tests (tests/kit/entry_point/).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from passerelle.daemon.driver import Driver, DriverContext
from passerelle.daemon.family import ConfigModel, EventDeclaration, FamilyBase, FamilySection

READING_SCHEMA = "kit.thermometer.reading/1"


class Reading(BaseModel):
    """One temperature reading."""

    celsius: float = Field(description="degrees Celsius, as the sensor sent it")


class ThermometerDevice(ConfigModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="device id used in topics")
    path: Path = Field(description="the file the sensor appends its readings to, one per line")


class ThermometerSection(FamilySection):
    devices: list[ThermometerDevice] = Field(default_factory=list)
    poll_seconds: float = Field(0.1, gt=0, description="how often the file is read for new lines")


class ThermometerFamily(FamilyBase):
    name = "thermometer"
    section_model = ThermometerSection
    events = (EventDeclaration(READING_SCHEMA, Reading, "temperature", "one reading of a room thermometer"),)

    def create_drivers(self, section: FamilySection, context: DriverContext) -> Sequence[Driver]:
        from tests.kit.thermometer.driver import ThermometerDriver

        assert isinstance(section, ThermometerSection)
        return [ThermometerDriver(device, section.poll_seconds) for device in section.devices]


FAMILY = ThermometerFamily()
