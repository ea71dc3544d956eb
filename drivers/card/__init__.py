"""PC/SC card readers: Vitale and CPx cards detected by ATR, opt-in public data reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from passerelle.daemon.driver import Driver, DriverContext
from passerelle.daemon.family import CliCommands, DoctorCheck, FamilySection
from passerelle.drivers.card.config import CardSection
from passerelle.drivers.card.events import CARD_DATA_SCHEMA, CARD_SCHEMA, CardData, CardEvent


class CardFamily:
    @property
    def name(self) -> str:
        return "card"

    @property
    def section_model(self) -> type[FamilySection]:
        return CardSection

    @property
    def event_models(self) -> Mapping[str, type[BaseModel]]:
        return {CARD_SCHEMA: CardEvent, CARD_DATA_SCHEMA: CardData}

    @property
    def channels(self) -> Mapping[str, str]:
        return {CARD_SCHEMA: "card", CARD_DATA_SCHEMA: "card-data"}

    def create_drivers(self, section: FamilySection, context: DriverContext) -> Sequence[Driver]:
        from passerelle.drivers.card.driver import create_drivers

        assert isinstance(section, CardSection)
        return create_drivers(section, context)

    def add_cli_commands(self, commands: CliCommands) -> None:
        from passerelle.drivers.card.cli import add_cli_commands

        add_cli_commands(commands)

    def doctor(self, section: FamilySection | None) -> Sequence[DoctorCheck]:
        from passerelle.drivers.card.doctor import checks

        return checks(section if isinstance(section, CardSection) else None)


FAMILY = CardFamily()
