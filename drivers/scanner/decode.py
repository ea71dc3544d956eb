"""Classify and decode one scan's text into the normalized ``ScanPayload``.

Pure and deterministic (``today`` drives the GS1 century rule): the serial driver, the HID driver
and ``passerelle decode`` all end here.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from datetime import date

from drivers.scanner.aim import GS1_SYMBOLOGIES, NUMERIC_SYMBOLOGIES, QR_LIKE, split_aim
from drivers.scanner.checks import gs1_check_ok
from drivers.scanner.french import ean13_kind, two_d_doc_header
from drivers.scanner.gs1 import GS, GS1Decoded, decode_digital_link, decode_gs1, looks_like_hri
from drivers.scanner.hibc import decode_hibc, looks_like_hibc
from drivers.scanner.payload import Kind, Problem, ScanPayload

# Private-use or pictographic characters some scanners or wedges emit instead of a real GS.
DEFAULT_GS_STAND_INS = ("\uf71b", "\u241d")
_ISO15434_HEADER = "[)>\x1e"
# The e-prescription / ApCV QR codes are opaque tokens: we only recognise "one long token".
_OPAQUE_TOKEN = re.compile(r"[A-Za-z0-9+/=_.~:-]{10,512}")
_ALLOWED_CONTROLS = {GS, "\x1e", "\x04", "\x1f"}
# Problems that say how the scan arrived, not that its content is wrong.
ADVISORY = frozenset({Problem.TERMINATOR_MISSING})


def _is_valid(problems: Iterable[Problem]) -> bool:
    return not (set(problems) - ADVISORY)


# NIR (French social security number): sex 1-4 (7/8 temporary), YY, MM, department (2A/2B in
# Corsica), commune, order, then a key = 97 - (number mod 97). Health data: never published unless
# the operator opts in.
_NIR = re.compile(r"[1-478]\d{4}(?:\d{2}|2A|2B)\d{6}\d{2}")
_CORSICA = {"2A": "19", "2B": "18"}  # what the key is computed with in place of the letters


def looks_like_nir(data: str) -> bool:
    compact = data.replace(" ", "").upper()
    if not _NIR.fullmatch(compact):
        return False
    department = compact[5:7]
    body = compact[:5] + _CORSICA.get(department, department) + compact[7:13]
    return 97 - int(body) % 97 == int(compact[13:])


def normalize_stand_ins(text: str, stand_ins: Iterable[str] = DEFAULT_GS_STAND_INS) -> str:
    for stand_in in stand_ins:
        if stand_in:
            text = text.replace(stand_in, GS)
    return text


def decode_bytes(
    raw: bytes,
    *,
    today: date | None = None,
    problems: Iterable[Problem] = (),
    stand_ins: Iterable[str] = DEFAULT_GS_STAND_INS,
    allow_nir: bool = False,
) -> ScanPayload:
    """Bytes from a raw (serial) scanner: UTF-8, or a ``not_utf8`` problem with the bad bytes shown
    as ``\\xNN`` escapes in ``raw`` so support staff can read them."""
    extra = list(problems)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "backslashreplace")
        extra.append(Problem.NOT_UTF8)
    return decode_text(text, today=today, problems=extra, stand_ins=stand_ins, allow_nir=allow_nir)


def _gs1_payload(raw: str, symbology: str | None, decoded: GS1Decoded, extra: list[Problem]) -> ScanPayload:
    problems = _merge(extra, decoded.problems)
    return ScanPayload(
        raw=raw,
        symbology=symbology,
        kind="gs1",
        valid=decoded.parsed and _is_valid(problems),
        problems=problems,
        gtin=decoded.gtin,
        lot=decoded.lot,
        serial=decoded.serial,
        expiry=decoded.expiry,
        production_date=decoded.production_date,
        cip13=decoded.cip13,
        elements=decoded.elements if decoded.parsed else None,
    )


def _merge(*groups: Iterable[Problem]) -> list[Problem]:
    """The problems of all groups, each once, in first-seen order."""
    return list(dict.fromkeys(itertools.chain.from_iterable(groups)))


def _simple(
    raw: str, symbology: str | None, kind: Kind, problems: list[Problem], **fields: object
) -> ScanPayload:
    return ScanPayload.model_validate(
        {
            "raw": raw,
            "symbology": symbology,
            "kind": kind,
            "valid": _is_valid(problems),
            "problems": problems,
            **fields,
        }
    )


def _digits(raw: str, symbology: str | None, data: str, extra: list[Problem]) -> ScanPayload | None:
    n = len(data)
    check = [] if gs1_check_ok(data) else [Problem.CHECK_DIGIT_INVALID]
    if n == 13:
        kind = ean13_kind(data)
        return _simple(
            raw,
            symbology,
            kind,
            _merge(extra, check),
            gtin=data.zfill(14),
            cip13=data if kind == "cip13" else None,
        )
    if n == 8:
        return _simple(raw, symbology, "ean8", _merge(extra, check), gtin=data.zfill(14))
    if n == 12:
        return _simple(raw, symbology, "upc_a", _merge(extra, check), gtin=data.zfill(14))
    if n == 14:
        cip13 = data[1:] if data.startswith("03400") and not data.startswith("034008") else None
        return _simple(raw, symbology, "gtin14", _merge(extra, check), gtin=data, cip13=cip13)
    if n == 11:  # RPPS: prescriber, Code 128 on paper prescriptions. Key algorithm not checked.
        return _simple(raw, symbology, "rpps", extra, identifier=data)
    if n == 9:  # FINESS / AM number of the prescribing facility
        return _simple(raw, symbology, "finess", extra, identifier=data)
    return None


def _by_symbology(
    raw: str, symbology: str | None, data: str, today: date, extra: list[Problem]
) -> ScanPayload | None:
    """The payload the AIM identifier alone decides: GS1 symbols always go to the GS1 parser,
    EAN/UPC/ITF-14 must hold exactly their number of digits. None: the identifier leaves it open."""
    if symbology in GS1_SYMBOLOGIES:
        return _gs1_payload(raw, symbology, decode_gs1(data, today), extra)
    numeric = NUMERIC_SYMBOLOGIES.get(symbology or "")
    if numeric is None:
        return None
    if not (data.isascii() and data.isdigit()):
        return _simple(raw, symbology, numeric.kind, _merge(extra, [Problem.INVALID_CHARACTER]))
    if len(data) != numeric.length:
        return _simple(raw, symbology, numeric.kind, _merge(extra, [Problem.INVALID_LENGTH]))
    return _digits(raw, symbology, data, extra)


def decode_text(
    text: str,
    *,
    today: date | None = None,
    problems: Iterable[Problem] = (),
    stand_ins: Iterable[str] = DEFAULT_GS_STAND_INS,
    allow_nir: bool = False,
) -> ScanPayload:
    """Decode one complete scan. ``problems`` come from the transport (terminator missing…)."""
    today = today or date.today()
    extra = list(problems)
    raw = normalize_stand_ins(text, stand_ins)
    symbology, data = split_aim(raw)
    if not data:
        return _simple(raw, symbology, "text", _merge(extra, [Problem.EMPTY]))
    if not allow_nir and looks_like_nir(data):
        return _simple((symbology or "") + "*" * len(data), symbology, "text", extra, redacted=True)

    if data.startswith(_ISO15434_HEADER):
        complete = data.endswith("\x1e\x04") and data[4:6].isdigit()
        return _simple(raw, symbology, "iso15434", _merge(extra, [] if complete else [Problem.TRUNCATED]))

    decided = _by_symbology(raw, symbology, data, today, extra)
    if decided is not None:
        return decided

    lowered = data.lower()
    if lowered.startswith(("http://", "https://")):
        link = decode_digital_link(data, today)
        if link is not None:
            linked = _gs1_payload(raw, symbology, link, extra)
            linked.url = data
            return linked
        return _simple(raw, symbology, "url", extra, url=data)

    if (GS in data and data.lstrip(GS)[:2].isdigit()) or looks_like_hri(data):
        # No GS1 identifier, but GS-separated AIs or the bracketed form: checked as GS1 all the same.
        return _gs1_payload(raw, symbology, decode_gs1(data, today), extra)

    if looks_like_hibc(data):
        hibc = decode_hibc(data, today)
        h = hibc.data
        return _simple(
            raw,
            symbology,
            "hibc",
            _merge(extra, hibc.problems),
            hibc=h,
            lot=h.lot,
            serial=h.serial,
            expiry=h.expiry,
            production_date=h.production_date,
        )

    header = two_d_doc_header(data)
    if header is not None:
        return _simple(raw, symbology, "two_d_doc", extra, two_d_doc=header)

    if data[0] in "=&" and len(data) >= 3 and data[1].isalnum():
        return _simple(raw, symbology, "iccbba", extra)

    if data.isascii() and data.isdigit():
        numeric = _digits(raw, symbology, data, extra)
        if numeric is not None:
            return numeric
    if data[:2] in ("01", "02") and data[2:16].isdigit() and len(data) > 16:
        gs1 = decode_gs1(data, today)  # a GS1 string whose FNC1/AIM prefix was not transmitted
        if gs1.parsed:
            return _gs1_payload(raw, symbology, gs1, extra)

    if (symbology is None or symbology in QR_LIKE) and _OPAQUE_TOKEN.fullmatch(data):
        # Ordonnance numérique / ApCV QR: opaque, classified by exclusion, never corrected.
        return _simple(raw, symbology, "e_prescription", extra, identifier=data)

    controls = [] if all(ch >= " " or ch in _ALLOWED_CONTROLS for ch in data) else [Problem.CONTROL_CHARACTER]
    return _simple(raw, symbology, "text", _merge(extra, controls))


__all__ = ["DEFAULT_GS_STAND_INS", "decode_bytes", "decode_text", "normalize_stand_ins"]
