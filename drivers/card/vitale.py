"""Vitale 2 public files: beneficiaries' identity and NIR, readable without a PIN.

Layout as documented by open-source readers (not checked against the GIE SESAM-Vitale spec): under the
MF, READ BINARY of SFI 2 gives one template 65 per beneficiary (80 last name, 81 first name, 82 birth
date YYYYMMDD); under the "VITALE" application the same read gives the NIRs (tag 93), in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from passerelle.drivers.card import tlv
from passerelle.drivers.card.apdu import exchange, read_binary_sfi, select_aid, select_file

MF = b"\x3f\x00"
AID_VITALE = bytes.fromhex("D250000002564954414C45")
SFI_PUBLIC = 2


@dataclass(frozen=True, slots=True)
class RawBeneficiary:
    last_name: str
    first_name: str
    birth_date: str
    nir: str | None


def read_beneficiaries(transmit: Callable[[bytes], bytes]) -> list[RawBeneficiary]:
    exchange(transmit, select_file(MF), "SELECT MF")
    identities = exchange(transmit, read_binary_sfi(SFI_PUBLIC), "READ BINARY identities")
    exchange(transmit, select_aid(AID_VITALE), "SELECT VITALE")
    nirs = exchange(transmit, read_binary_sfi(SFI_PUBLIC), "READ BINARY NIR")
    return decode(identities, nirs)


def decode(identities: bytes, nirs: bytes) -> list[RawBeneficiary]:
    templates = tlv.find_all(tlv.parse(identities), 0x65)
    if not templates:
        raise tlv.MalformedDataError("no beneficiary template (65) in the public file")
    nir_values = [_ascii(item.value, "NIR") for item in tlv.find_all(tlv.parse(nirs), 0x93)]
    people: list[RawBeneficiary] = []
    for position, template in enumerate(templates):
        fields = {item.tag: item.value for item in template.children()}
        if 0x80 not in fields or 0x81 not in fields:
            raise tlv.MalformedDataError(f"beneficiary {position + 1} lacks a name")
        people.append(
            RawBeneficiary(
                last_name=_ascii(fields[0x80], "last name"),
                first_name=_ascii(fields[0x81], "first name"),
                birth_date=_ascii(fields.get(0x82, b""), "birth date"),
                nir=nir_values[position] if position < len(nir_values) else None,
            )
        )
    return people


def iso_birth_date(raw: str) -> str:
    """YYYY-MM-DD when the card's YYYYMMDD is a plain date; as is otherwise (lunar dates, 00 days)."""
    if len(raw) == 8 and raw.isdigit() and 1 <= int(raw[4:6]) <= 12 and 1 <= int(raw[6:]) <= 31:
        return f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"
    return raw


def _ascii(value: bytes, what: str) -> str:
    try:
        return value.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise tlv.MalformedDataError(f"{what} is not ASCII") from exc
