"""What the card driver knows of each reader and slot: the card in it and its insertion session."""

from __future__ import annotations

from dataclasses import dataclass, field

from passerelle.daemon.driver import DeviceInfo
from passerelle.drivers.card.atr import CardType, Classification
from passerelle.drivers.card.events import SlotState, SlotStatusName
from passerelle.drivers.card.identity import ReaderName

CARD_STATUSES = ("present", "in_use", "mute")


@dataclass
class Slot:
    pcsc_name: str
    slot: int
    status: SlotStatusName = "unavailable"
    atr: bytes | None = None
    card: Classification | None = None
    # Random per insertion: a front end compares it between a read and its use to see a swapped card.
    card_session_id: str | None = None
    own_use_until: float = 0.0

    @property
    def has_card(self) -> bool:
        return self.status in CARD_STATUSES

    def state(self) -> SlotState:
        card = self.card if self.has_card else None
        return SlotState(
            slot=self.slot,
            status=self.status,
            card_type=card.card_type if card else None,
            atr=card.atr if card else None,
            label=card.label if card else None,
            card_session_id=self.card_session_id if card else None,
        )


@dataclass
class Reader:
    info: DeviceInfo
    name: ReaderName
    slots: dict[int, Slot] = field(default_factory=dict)


def slot_holding(slots: list[SlotState], kinds: frozenset[CardType]) -> int | None:
    for state in slots:
        if state.card_type in kinds:
            return state.slot
    return None
