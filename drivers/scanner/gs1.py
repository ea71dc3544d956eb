"""GS1 element strings, their bracketed human-readable form and GS1 Digital Link URIs, decoded into
the fields consumers use (GTIN, lot, serial, expiry, CIP13) with every GS1 rule broken reported.

The AI rules come from the GS1 Barcode Syntax Dictionary (gs1_dictionary); digital link URIs are
split by gs1_digital_link and their elements go through the same checks as scanned ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from passerelle.drivers.scanner.dates import yymmdd
from passerelle.drivers.scanner.gs1_dictionary import ai_table
from passerelle.drivers.scanner.gs1_digital_link import split_digital_link
from passerelle.drivers.scanner.gs1_separator import lost_separator_suspected
from passerelle.drivers.scanner.gs1_syntax import (
    GS,
    ParsedMessage,
    check_message,
    split_element_string,
    split_hri,
)
from passerelle.drivers.scanner.payload import GS1Element, Problem

__all__ = ["GS", "GS1Decoded", "decode_digital_link", "decode_gs1", "encode_gs1", "looks_like_hri"]


_HRI_START = re.compile(r"\(\d+\)")


@dataclass
class GS1Decoded:
    elements: list[GS1Element] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    gtin: str | None = None
    lot: str | None = None
    serial: str | None = None
    expiry: date | None = None
    production_date: date | None = None
    cip13: str | None = None
    parsed: bool = False  # False: not parseable as a GS1 message at all


def _fields(out: GS1Decoded, parsed: ParsedMessage, today: date) -> None:
    """The consumer-facing fields from the first occurrence of each AI. Lot and serial are given as
    read; a GTIN or date that cannot be read as one is None (its problem is already reported)."""
    values: dict[str, str] = {}
    for element in parsed.elements:
        values.setdefault(element.ai, element.value)
    gtin = values.get("01")
    out.gtin = gtin if gtin and len(gtin) == 14 and gtin.isdigit() else None
    out.lot, out.serial = values.get("10"), values.get("21")
    out.production_date = yymmdd(values.get("11", ""), today)
    out.expiry = yymmdd(values.get("17", ""), today)
    if out.expiry is None and "17" not in values:
        expiry_time = values.get("7003", "")
        out.expiry = yymmdd(expiry_time, today) if expiry_time[4:6] != "00" else None
    nhrn_france = values.get("711", "")
    if len(nhrn_france) == 13 and nhrn_france.startswith("3400"):
        out.cip13 = nhrn_france
    elif out.gtin and out.gtin.startswith("03400") and not out.gtin.startswith("034008"):
        out.cip13 = out.gtin[1:]  # a medicine's GTIN-14 is "0" + its CIP13


def decode_parsed(parsed: ParsedMessage, today: date) -> GS1Decoded:
    problems = check_message(parsed, today)
    if lost_separator_suspected(parsed, today):
        problems.add(Problem.MISSING_SEPARATOR_SUSPECTED)
    out = GS1Decoded(
        elements=[GS1Element(ai=e.ai, value=e.value) for e in parsed.elements],
        problems=sorted(problems),
        parsed=bool(parsed.elements),
    )
    _fields(out, parsed, today)
    return out


def decode_gs1(data: str, today: date) -> GS1Decoded:
    """Decode a GS1 element string (GS-separated) or its HRI form "(01)…(10)…"."""
    body = data.strip(GS)
    if not body:
        return GS1Decoded(problems=[Problem.EMPTY])
    parsed = split_hri(body) if body.startswith("(") else split_element_string(body)
    return decode_parsed(parsed, today)


def looks_like_hri(data: str) -> bool:
    """Starts like "(01)…": digits in brackets. Whether they name a real AI is for the checks to say."""
    return _HRI_START.match(data) is not None


def decode_digital_link(url: str, today: date) -> GS1Decoded | None:
    """A GS1 Digital Link URI, decoded and checked; None for a URL that is not one."""
    parsed = split_digital_link(url)
    return None if parsed is None else decode_parsed(parsed, today)


def encode_gs1(elements: list[tuple[str, str]]) -> str:
    """Element string with GS after every field that needs one, except the last (for simulators)."""
    table = ai_table()
    parts: list[str] = []
    for i, (ai, value) in enumerate(elements):
        parts.append(ai + value)
        if i < len(elements) - 1 and table[ai].separator_required:
            parts.append(GS)
    return "".join(parts)
