from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from passerelle.daemon.driver import Driver, DriverContext
from passerelle.daemon.family import ConfigModel, EventDeclaration, FamilyBase, FamilySection
from passerelle.drivers.synthetic.driver import SCHEMA, SyntheticData, SyntheticDriver


class SyntheticDevice(ConfigModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    rate: float = Field(10.0, ge=0, description="events per second; 0 = as fast as the outbox accepts")
    count: int | None = Field(None, ge=0, description="stop after this many events (None = forever)")
    payload_bytes: int = Field(0, ge=0, le=65536, description="filler added to each event")
    resume: bool = Field(
        True,
        description="continue numbering after a restart (progress in the state directory); event ids "
        "then derive from the station, device id and number, so a resent event keeps its id",
    )


class SyntheticSection(FamilySection):
    devices: list[SyntheticDevice] = Field(default_factory=list)


class SyntheticFamily(FamilyBase):
    name = "synthetic"
    section_model = SyntheticSection
    events = (EventDeclaration(SCHEMA, SyntheticData, "synthetic", "test pattern (only when configured)"),)

    def create_drivers(self, section: FamilySection, context: DriverContext) -> Sequence[Driver]:
        assert isinstance(section, SyntheticSection)
        return [
            SyntheticDriver(
                d.id,
                station=context.station,
                rate=d.rate,
                count=d.count,
                payload_bytes=d.payload_bytes,
                progress_file=context.state_dir / f"synthetic-{d.id}.progress" if d.resume else None,
            )
            for d in section.devices
        ]


FAMILY = SyntheticFamily()
