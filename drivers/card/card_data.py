"""The ``passerelle.card-data/1`` payload from what a public data read returned: the NIR protected as
configured, the card session the read belongs to."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from passerelle.drivers.card.atr import CardType
from passerelle.drivers.card.config import CardSection
from passerelle.drivers.card.events import Beneficiary, CardData, CpxHolder
from passerelle.drivers.card.nir import nir_key_ok, protect
from passerelle.drivers.card.public_read import ReadResult
from passerelle.drivers.card.vitale import iso_birth_date

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CardSource:
    """Which card was read: where, what type, and the insertion it belongs to."""

    reader: str
    reader_id: str
    slot: int
    card_type: CardType
    card_session_id: str | None


def card_data(source: CardSource, section: CardSection, result: ReadResult) -> CardData:
    salt = section.nir_salt.get_secret_value() if section.nir_salt else None
    beneficiaries = []
    for person in result.beneficiaries:
        clear, hashed = protect(person.nir, section.nir_mode, salt) if person.nir else (None, None)
        beneficiaries.append(
            Beneficiary(
                last_name=person.last_name,
                first_name=person.first_name,
                birth_date=iso_birth_date(person.birth_date),
                nir=clear,
                nir_hash=hashed,
                nir_valid=nir_key_ok(person.nir) if person.nir else None,
            )
        )
    # RawHolder and CpxHolder have the same fields: pydantic copies them.
    holder = None
    if result.holder is not None:
        holder = CpxHolder.model_validate(result.holder, from_attributes=True)
    if result.status != "ok":
        log.info("public data read on %s slot %d: %s", source.reader_id, source.slot, result.status)
    return CardData(
        reader=source.reader,
        reader_id=source.reader_id,
        slot=source.slot,
        card_type=source.card_type,
        card_session_id=source.card_session_id,
        status=result.status,
        error=result.error,
        nir_mode=section.nir_mode.value,
        beneficiaries=beneficiaries,
        holder=holder,
    )
