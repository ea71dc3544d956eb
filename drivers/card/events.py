"""Payloads of the card channels."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from passerelle.daemon.family import EventDeclaration
from passerelle.drivers.card.atr import CardType

CARD_SCHEMA = "passerelle.card/1"
CARD_DATA_SCHEMA = "passerelle.card-data/1"

CARD_SESSION_DOC = (
    "random id given to a card when it is inserted (a new one at each insertion, even of the same card): "
    "compare it between a read and its use to notice a card swapped in between"
)

SlotStatusName = Literal["empty", "present", "in_use", "mute", "unavailable"]


class SlotState(BaseModel):
    slot: int
    status: SlotStatusName
    card_type: CardType | None = None
    atr: str | None = None
    label: str | None = None
    card_session_id: str | None = Field(default=None, description=CARD_SESSION_DOC)


class CardEvent(BaseModel):
    """A card inserted or removed, or a slot's state changing; also the reader's retained state."""

    event: Literal["inserted", "removed", "state"]
    reader: str = Field(description="reader name without plug-order index and slot")
    reader_id: str
    slot: int | None = None
    atr: str | None = Field(default=None, description="ATR in upper-case hex with spaces")
    card_type: CardType | None = None
    label: str | None = None
    card_session_id: str | None = Field(default=None, description=CARD_SESSION_DOC)
    reason: str | None = Field(default=None, description="why a card was reported removed, when not pulled")
    slots: list[SlotState] = Field(description="every slot of the reader after this event")
    patient_card_slot: int | None = Field(default=None, description="slot holding a Vitale card, if any")
    professional_card_slot: int | None = Field(default=None, description="slot holding a CPx card, if any")


class Beneficiary(BaseModel):
    last_name: str
    first_name: str
    birth_date: str = Field(description="YYYY-MM-DD when valid, else as on the card")
    nir: str | None = Field(default=None, description="only with nir_mode = clear")
    nir_hash: str | None = Field(default=None, description="HMAC-SHA256(salt, NIR), with nir_mode = hash")
    nir_valid: bool | None = Field(default=None, description="whether the NIR's key checks")


class CpxHolder(BaseModel):
    national_id: str = Field(description='"8" + RPPS or "0" + ADELI')
    last_name: str
    first_name: str
    profession: str
    card_kind: str = Field(description="CPS, CPE, CPF…")


class CardData(BaseModel):
    """The outcome of an opt-in public data read."""

    reader: str
    reader_id: str
    slot: int
    card_type: CardType
    card_session_id: str | None = Field(default=None, description=CARD_SESSION_DOC)
    status: Literal["ok", "in_use", "timeout", "error", "unsupported", "card_removed"]
    error: str | None = None
    nir_mode: str
    beneficiaries: list[Beneficiary] = Field(default_factory=list)
    holder: CpxHolder | None = None


EVENTS = (
    EventDeclaration(
        CARD_SCHEMA, CardEvent, "card", "readers, slots, insertions and removals — see [cards.md](cards.md)"
    ),
    EventDeclaration(
        CARD_DATA_SCHEMA,
        CardData,
        "card-data",
        "opt-in public card data, on its own topic so that broker ACLs can keep it from consumers that "
        "only need presence",
    ),
)
