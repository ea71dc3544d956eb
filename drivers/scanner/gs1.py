"""GS1 element strings and digital links, parsed by biip, with the gaps biip leaves filled here.

biip does the AI table and value patterns. We add: DD=00 expiry dates (biip rejects them), our own
date and check-digit verdicts as stable problem codes, detection of a missing GS separator (biip lets
a variable-length lot silently swallow the following AIs), and digital links behind a ``]Q1`` prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from biip import ParseConfig, ParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_messages import GS1Message

from drivers.scanner.checks import gs1_check_ok
from drivers.scanner.dates import yymmdd
from drivers.scanner.payload import GS1Element, Problem

GS = "\x1d"
_CONFIG = ParseConfig(gs1_element_strings_verify_date=False, separator_chars=(GS,))
_DATE_AIS = {"11", "12", "13", "15", "16", "17"}
_GTIN_AIS = {"01", "02", "03"}
# Free-text fields where a lost GS goes unnoticed by the parser (other variable AIs have structure).
_SWALLOWERS = {"10", "21", "22", "235", "240", "241", "250", "251"}
# AIs that start a new field when found inside a lot or serial that lost its GS: the ones that
# actually follow a lot/serial on medical devices and medicines.
_FOLLOWERS = {
    "01",
    "10",
    "11",
    "15",
    "16",
    "17",
    "21",
    "30",
    "240",
    "7003",
    "711",
    "712",
    "713",
    "714",
    "715",
    "8006",
}
_FOLLOWER_PREFIXES = tuple(sorted(_FOLLOWERS))


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


def _parse_message(data: str) -> list[tuple[str, str, bool]]:
    """(ai, value, separator_required) triples; raises biip ParseError."""
    if data.startswith("("):
        message = GS1Message.parse_hri(data, config=_CONFIG)
    else:
        message = GS1Message.parse(data, config=_CONFIG)
    return [(es.ai.ai, es.value, es.ai.separator_required) for es in message.element_strings]


def _lengths(ai: GS1ApplicationIdentifier) -> tuple[int, bool]:
    """(maximum data length, fixed?) from biip's format string, e.g. "N2+N6" or "N4+N6[+N4]"."""
    parts = ai.format.replace("[", "").replace("]", "").split("+")[1:]
    total, fixed = 0, True
    for part in parts:
        digits = "".join(ch for ch in part if ch.isdigit())
        total += int(digits) if digits else 1
        fixed = fixed and ".." not in part and "[" not in ai.format
    return total, fixed


def _tolerant_split(data: str) -> tuple[list[tuple[str, str, bool]], set[Problem]]:
    """Split an element string on biip's AI table without validating values, so that one bad
    value (a month 13, a letter in a date) is reported as such instead of failing the message."""
    pairs: list[tuple[str, str, bool]] = []
    problems: set[Problem] = set()
    rest = data
    while rest:
        if rest[0] == GS:
            rest = rest[1:]
            continue
        try:
            ai = GS1ApplicationIdentifier.extract(rest)
        except (ParseError, ValueError):
            problems.add(Problem.UNKNOWN_AI)
            break
        body = rest[len(ai.ai) :]
        size, fixed = _lengths(ai)
        if not ai.separator_required and fixed:
            value = body[:size]
            if len(value) < size:
                problems.add(Problem.TRUNCATED)
        else:
            value = body.split(GS, 1)[0][:size]
        pairs.append((ai.ai, value, ai.separator_required))
        rest = body[len(value) :]
    return pairs, problems


def _swallowed_field(value: str, own_ai: str, today: date) -> bool:
    """True when a variable-length value looks like it contains the next field(s) because the
    GS separator was lost: some tail of it parses completely as a GS1 message starting with a
    usual follower AI whose content is itself valid."""
    for start in range(1, len(value) - 1):
        tail = value[start:]
        if not tail.startswith(_FOLLOWER_PREFIXES):  # cheap filter before a full parse
            continue
        try:
            parsed = _parse_message(tail)
        except (ParseError, ValueError):
            continue
        ai, inner, _ = parsed[0]
        if ai not in _FOLLOWERS or ai == own_ai:
            continue
        if ai in _DATE_AIS and yymmdd(inner, today) is None:
            continue
        if ai in _GTIN_AIS and not gs1_check_ok(inner):
            continue
        if ai in {"10", "21"} and len(inner) < 3:
            continue
        return True
    return False


def decode_elements(pairs: list[tuple[str, str, bool]], today: date) -> GS1Decoded:
    out = GS1Decoded(parsed=True)
    problems: set[Problem] = set()
    expiry_7003: date | None = None  # AI 17 wins when both are present
    for ai, value, separator_required in pairs:
        out.elements.append(GS1Element(ai=ai, value=value))
        if ai in _GTIN_AIS:
            if not gs1_check_ok(value):
                problems.add(Problem.CHECK_DIGIT_INVALID)
            if ai == "01" and out.gtin is None:
                out.gtin = value
        elif ai in _DATE_AIS:
            when = yymmdd(value, today)
            if when is None:
                problems.add(Problem.INVALID_DATE)
            elif ai == "17" and out.expiry is None:
                out.expiry = when
            elif ai == "11" and out.production_date is None:
                out.production_date = when
        elif ai == "7003":
            when = yymmdd(value, today)
            hh, mm = value[6:8], value[8:10]
            if when is None or not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
                problems.add(Problem.INVALID_DATE)
            elif expiry_7003 is None:
                expiry_7003 = when
        elif ai == "10" and out.lot is None:
            out.lot = value
        elif ai == "21" and out.serial is None:
            out.serial = value
        elif ai == "711" and len(value) == 13 and value.startswith("3400"):
            out.cip13 = value
        if separator_required and ai in _SWALLOWERS and _swallowed_field(value, ai, today):
            problems.add(Problem.MISSING_SEPARATOR_SUSPECTED)
    if out.expiry is None:
        out.expiry = expiry_7003
    # A medicine's GTIN-14 is "0" + its CIP13.
    if out.cip13 is None and out.gtin and out.gtin.startswith("03400") and not out.gtin.startswith("034008"):
        out.cip13 = out.gtin[1:]
    out.problems = sorted(problems)
    return out


def decode_gs1(data: str, today: date) -> GS1Decoded:
    """Decode a GS1 element string (GS-separated, or HRI with parentheses)."""
    body = data.lstrip(GS).rstrip(GS)
    if not body:
        return GS1Decoded(problems=[Problem.EMPTY])
    try:
        pairs = _parse_message(body)
    except (ParseError, ValueError):
        if body.startswith("("):
            return GS1Decoded(problems=[Problem.INVALID_FORMAT])
        pairs, split_problems = _tolerant_split(body)
        if not pairs:
            return GS1Decoded(problems=sorted(split_problems))
        decoded = decode_elements(pairs, today)
        found = split_problems | set(decoded.problems)
        decoded.problems = sorted(found or {Problem.INVALID_FORMAT})
        return decoded
    return decode_elements(pairs, today)


def decode_digital_link(url: str, today: date) -> GS1Decoded | None:
    """A GS1 digital link URI (https://…/01/<gtin>/10/<lot>?17=…); None when the URL is not one."""
    try:
        link = GS1DigitalLinkURI.parse(url)
    except (ParseError, ValueError):
        return None
    return decode_elements([(es.ai.ai, es.value, False) for es in link.element_strings], today)


def encode_gs1(elements: list[tuple[str, str]]) -> str:
    """Element string with GS after every variable-length field except the last (for simulators).

    biip's AI table says which AIs need the separator (those not of predefined length)."""
    parts: list[str] = []
    for i, (ai, value) in enumerate(elements):
        parts.append(ai + value)
        if i < len(elements) - 1 and GS1ApplicationIdentifier.extract(ai).separator_required:
            parts.append(GS)
    return "".join(parts)
