"""CPx (CPS/CPE/CPF) holder public data, behind an interface.

The ANS PKCS#11 spec marks the holder identity objects readable without PIN, but their byte format is
only reachable through the ANS Cryptolib module. Until that module is wired in, ``SimulatedCpxReader``
reads our own encoding, served by the simulator: an application F0 "PASSCPX" whose file (SFI 1) holds a
template A0 with 80 national id, 81 last name, 82 first name, 83 profession, 84 card kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from passerelle.drivers.card import tlv
from passerelle.drivers.card.apdu import exchange, read_binary_sfi, select_aid

AID_SIMULATED = b"\xf0" + b"PASSCPX"


@dataclass(frozen=True, slots=True)
class RawHolder:
    national_id: str
    last_name: str
    first_name: str
    profession: str
    card_kind: str


class CpxHolderReader(Protocol):
    def read(self, transmit: Callable[[bytes], bytes]) -> RawHolder: ...


class SimulatedCpxReader:
    def read(self, transmit: Callable[[bytes], bytes]) -> RawHolder:
        exchange(transmit, select_aid(AID_SIMULATED), "SELECT CPx holder")
        data = exchange(transmit, read_binary_sfi(1), "READ BINARY holder")
        templates = tlv.find_all(tlv.parse(data), 0xA0)
        if not templates:
            raise tlv.MalformedDataError("no holder template (A0)")
        fields = {item.tag: item.value.decode("ascii", "replace") for item in templates[0].children()}
        missing = [tag for tag in (0x80, 0x81, 0x82) if tag not in fields]
        if missing:
            raise tlv.MalformedDataError(f"holder template lacks tags {missing}")
        return RawHolder(
            national_id=fields[0x80],
            last_name=fields[0x81],
            first_name=fields[0x82],
            profession=fields.get(0x83, ""),
            card_kind=fields.get(0x84, "CPS"),
        )
