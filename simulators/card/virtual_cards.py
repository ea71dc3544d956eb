"""Card behaviours: what a virtual card answers to power control and APDUs.

The Vitale 2 public files follow the layout documented by open-source readers (a TLV template 65 per
beneficiary under the MF, the NIR under the "VITALE" application). The CPx holder file uses our own
encoding (see drivers/card/cpx.py): the real one is only reachable through the ANS PKCS#11 module.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

SW_OK = b"\x90\x00"
SW_FILE_NOT_FOUND = b"\x6a\x82"
SW_INS_NOT_SUPPORTED = b"\x6d\x00"
SW_CLA_NOT_SUPPORTED = b"\x6e\x00"
SW_WRONG_P1P2 = b"\x6b\x00"
SW_NO_PRECISE_DIAGNOSIS = b"\x6f\x00"

AID_VITALE = bytes.fromhex("D250000002564954414C45")
MF = b"\x3f\x00"
AID_CPX_SIMULATED = b"\xf0" + b"PASSCPX"  # proprietary-range AID of our simulated CPx holder file

ATRS = {
    "vitale1": "3F 65 25 00 2C 09 F9 90 00",
    "vitale2": "3B 75 13 00 00 47 09 EA 90 00",
    "cps3": "3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00",
    "cps3_contactless": "3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E",
    "cps4": "3B DC 18 FF 00 00 12 25 00 64 80 00 04 01 00 90 00",
    "unknown": "3B 02 14 50",
    "error": "3B 75 13 00 00 4B 09 EA 90 00",  # a Vitale 2 ATR whose every APDU fails
}


def tlv(tag: int, value: bytes) -> bytes:
    if len(value) < 0x80:
        length = bytes([len(value)])
    elif len(value) < 0x100:
        length = bytes([0x81, len(value)])
    else:
        length = bytes([0x82]) + len(value).to_bytes(2, "big")
    return bytes([tag]) + length + value


@dataclass(frozen=True, slots=True)
class Beneficiary:
    last_name: str
    first_name: str
    birth_date: str  # YYYYMMDD, as on the card
    nir: str  # 15 characters: 13 + key


# Fictitious people; NIRs are well-formed (valid key) but belong to nobody.
SAMPLE_BENEFICIARIES = (
    Beneficiary("MARTIN", "CLAIRE", "19840312", "284037510812347"),
    Beneficiary("MARTIN", "LUCAS", "20120907", "112097510854303"),
    Beneficiary("MARTIN", "INES", "20150121", "215017510867828"),
)


@dataclass
class VirtualCard:
    """A card that answers every APDU with 6D00 (instruction not supported): CPx without our simulated
    file, unknown cards. Subclasses add files."""

    atr: bytes
    # Answer delay per APDU, to simulate a slow or hung card.
    delay: float = 0.0
    apdus: list[bytes] = field(default_factory=list)

    def answer(self, capdu: bytes) -> bytes:
        self.apdus.append(capdu)
        if self.delay:
            time.sleep(self.delay)
        if len(capdu) < 4:
            return b"\x67\x00"
        return self.process(capdu)

    def process(self, capdu: bytes) -> bytes:
        return SW_INS_NOT_SUPPORTED


@dataclass
class ErrorCard(VirtualCard):
    """Answers every APDU with an error status."""

    status: bytes = SW_NO_PRECISE_DIAGNOSIS

    def process(self, capdu: bytes) -> bytes:
        return self.status


@dataclass
class FileCard(VirtualCard):
    """A card with transparent files reached by SELECT (by FID or AID) then READ BINARY.

    ``chain``: answer SELECT with 61xx (response waiting: GET RESPONSE) and serve READ BINARY data in
    GET RESPONSE chunks of ``chain`` bytes. ``strict_le``: answer READ BINARY with Le != the file
    length by 6Cxx (wrong length, resend with Le = xx), as some cards do.
    """

    files: dict[bytes, bytes] = field(default_factory=dict)
    chain: int = 0
    strict_le: bool = False
    _selected: bytes | None = None
    _pending: bytes = b""

    def process(self, capdu: bytes) -> bytes:
        cla, ins, _p1, _p2 = capdu[:4]
        if cla not in (0x00, 0x80):
            return SW_CLA_NOT_SUPPORTED
        if ins == 0xA4:
            name = capdu[5 : 5 + capdu[4]] if len(capdu) > 5 else b""
            if name not in self.files:
                return SW_FILE_NOT_FOUND
            self._selected = name
            if self.chain:
                self._pending = b"\x62\x00"  # a minimal FCI to fetch with GET RESPONSE
                return bytes([0x61, len(self._pending)])
            return SW_OK
        if ins == 0xB0:
            if self._selected is None:
                return b"\x69\x86"  # command not allowed: no current file
            content = self.files[self._selected]
            le = capdu[4] if len(capdu) == 5 else 0
            if self.strict_le and le != len(content) % 256:
                return bytes([0x6C, len(content) % 256])
            if self.chain and len(content) > self.chain:
                self._pending = content[self.chain :]
                return content[: self.chain] + bytes([0x61, min(len(self._pending), 255)])
            return content[: le or 256] + SW_OK
        if ins == 0xC0:
            if not self._pending:
                return b"\x69\x85"
            le = capdu[4] if len(capdu) == 5 else 0
            chunk, self._pending = self._pending[: le or 256], self._pending[le or 256 :]
            if self.chain and len(chunk) > self.chain:
                chunk, self._pending = chunk[: self.chain], chunk[self.chain :] + self._pending
            if self._pending:
                return chunk + bytes([0x61, min(len(self._pending), 255)])
            return chunk + SW_OK
        return SW_INS_NOT_SUPPORTED


def vitale2_files(beneficiaries: tuple[Beneficiary, ...] | list[Beneficiary]) -> dict[bytes, bytes]:
    identities = b"".join(
        tlv(
            0x65,
            tlv(0x80, b.last_name.encode("ascii"))
            + tlv(0x81, b.first_name.encode("ascii"))
            + tlv(0x82, b.birth_date.encode("ascii")),
        )
        for b in beneficiaries
    )
    nirs = b"".join(tlv(0x93, b.nir.encode("ascii")) for b in beneficiaries)
    return {MF: identities, AID_VITALE: nirs}


@dataclass(frozen=True, slots=True)
class CpxHolderSample:
    national_id: str  # "8" + RPPS or "0" + ADELI
    last_name: str
    first_name: str
    profession: str  # profession code, e.g. "60" (infirmier)
    card_kind: str  # "CPS", "CPE", "CPF"


SAMPLE_HOLDER = CpxHolderSample("810001234567", "DURAND", "SOPHIE", "60", "CPS")


def cpx_files(holder: CpxHolderSample) -> dict[bytes, bytes]:
    """Our own encoding: template A0 with 80 national id, 81 last name, 82 first name, 83 profession,
    84 card kind (CPS/CPE/CPF)."""
    body = (
        tlv(0x80, holder.national_id.encode())
        + tlv(0x81, holder.last_name.encode())
        + tlv(0x82, holder.first_name.encode())
        + tlv(0x83, holder.profession.encode())
        + tlv(0x84, holder.card_kind.encode())
    )
    return {AID_CPX_SIMULATED: tlv(0xA0, body)}


CARD_TYPES = (*ATRS.keys(), "mute")


def make_card(kind: str, beneficiaries: int = 2) -> VirtualCard:
    """A card by the names of ``passerelle simulate card TYPE``."""
    if kind == "mute":
        return VirtualCard(atr=b"")
    if kind not in ATRS:
        raise ValueError(f"unknown virtual card {kind!r}; one of {', '.join(CARD_TYPES)}")
    atr = bytes.fromhex(ATRS[kind])
    if kind == "vitale2":
        count = max(1, min(beneficiaries, len(SAMPLE_BENEFICIARIES)))
        return FileCard(atr=atr, files=vitale2_files(SAMPLE_BENEFICIARIES[:count]))
    if kind in ("cps3", "cps3_contactless", "cps4"):
        return FileCard(atr=atr, files=cpx_files(SAMPLE_HOLDER))
    if kind == "error":
        return ErrorCard(atr=atr)
    return VirtualCard(atr=atr)
