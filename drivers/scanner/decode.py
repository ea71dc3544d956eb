"""Classify and decode one scan's text into the normalized ``ScanPayload``.

Pure and deterministic (``today`` drives the GS1 century rule): the serial driver, the HID driver
and ``passerelle decode`` all end here. Total: every input gives a payload (a decoder bug gives a
``decoder_error`` problem, never an exception that would cost the driver this scan and the next).
Last step: ``nir_mode`` applied to every NIR found anywhere in the payload.
"""

from __future__ import annotations

import itertools
import logging
import traceback
from collections.abc import Iterable
from datetime import date

from passerelle.drivers.nir import NirMode
from passerelle.drivers.scanner.aim import GS1_SYMBOLOGIES, NUMERIC_SYMBOLOGIES, QR_LIKE, split_aim
from passerelle.drivers.scanner.checks import gs1_check_ok
from passerelle.drivers.scanner.french import ean13_kind, health_id_kind
from passerelle.drivers.scanner.gs1 import GS, GS1Decoded, decode_digital_link, decode_gs1, looks_like_hri
from passerelle.drivers.scanner.hibc import decode_hibc, looks_like_hibc
from passerelle.drivers.scanner.nir_scrub import MASK, apply_nir_mode, find_nirs, is_whole_nir
from passerelle.drivers.scanner.payload import Kind, Problem, ScanPayload
from passerelle.drivers.scanner.rules import DEFAULT_RULES, ScanRules, opaque_kind
from passerelle.drivers.scanner.two_d_doc import decode_two_d_doc, looks_like_two_d_doc

log = logging.getLogger(__name__)

# Private-use or pictographic characters some scanners or wedges emit instead of a real GS.
DEFAULT_GS_STAND_INS = ("\uf71b", "\u241d")
_ISO15434_HEADER = "[)>\x1e"
_ALLOWED_CONTROLS = {GS, "\x1e", "\x04", "\x1f"}
# Problems that say how the scan arrived, not that its content is wrong.
ADVISORY = frozenset({Problem.TERMINATOR_MISSING})


def _is_valid(problems: Iterable[Problem]) -> bool:
    return not (set(problems) - ADVISORY)


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
    rules: ScanRules = DEFAULT_RULES,
) -> ScanPayload:
    """Bytes from a raw (serial) scanner: UTF-8, or a ``not_utf8`` problem with the bad bytes shown
    as ``\\xNN`` escapes in ``raw`` so support staff can read them."""
    extra = list(problems)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "backslashreplace")
        extra.append(Problem.NOT_UTF8)
    return decode_text(
        text, today=today, problems=extra, stand_ins=stand_ins, allow_nir=allow_nir, rules=rules
    )


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
    health_id = health_id_kind(data, symbology)
    if health_id is not None:
        return _simple(raw, symbology, health_id, extra, identifier=data)
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
    rules: ScanRules = DEFAULT_RULES,
) -> ScanPayload:
    """Decode one complete scan. ``problems`` come from the transport (terminator missing…);
    ``allow_nir`` (a device's ``publish_nir``) overrides the rules' ``nir_mode`` with ``clear``."""
    rules = rules.with_nir_mode(NirMode.CLEAR) if allow_nir else rules
    extra = list(problems)
    raw = normalize_stand_ins(text, stand_ins)
    try:
        return apply_nir_mode(_classify(raw, today or date.today(), extra, rules), rules)
    except Exception as exc:  # one bad scan costs only itself, never the driver
        return _decoder_error(raw, extra, rules, exc)


def _decoder_error(raw: str, extra: list[Problem], rules: ScanRules, exc: Exception) -> ScanPayload:
    # The exception's message may quote the scan (a NIR among it): log only its type and place.
    where = traceback.extract_tb(exc.__traceback__)[-1]
    log.error("scan decoder failed: %s at %s:%s", type(exc).__name__, where.filename, where.lineno)
    symbology, _ = split_aim(raw)
    if rules.nir_mode is not NirMode.CLEAR:
        for nir in find_nirs(raw, inside_runs=True):
            raw = raw.replace(nir, MASK * len(nir))
    return _simple(raw, symbology, "text", _merge(extra, [Problem.DECODER_ERROR]))


def _classify(raw: str, today: date, extra: list[Problem], rules: ScanRules) -> ScanPayload:
    symbology, data = split_aim(raw)
    if not data:
        return _simple(raw, symbology, "text", _merge(extra, [Problem.EMPTY]))
    if rules.nir_mode is not NirMode.CLEAR and is_whole_nir(data):
        # A bare NIR is nothing else (not an EAN-13 with a bad check digit, not a token): its digits
        # never reach gtin/cip13, and the final pass masks raw. A numeric symbology still names the kind.
        shape = NUMERIC_SYMBOLOGIES.get(symbology or "")
        if shape is None:
            return _simple(raw, symbology, "text", extra)
        if len(data) != shape.length:
            return _simple(raw, symbology, shape.kind, _merge(extra, [Problem.INVALID_LENGTH]))
        kind = ean13_kind(data) if shape.length == 13 else shape.kind
        return _simple(raw, symbology, kind, _merge(extra, [Problem.CHECK_DIGIT_INVALID]))

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

    if looks_like_two_d_doc(data):
        two_d_doc = decode_two_d_doc(data)
        return _simple(
            raw, symbology, "two_d_doc", _merge(extra, two_d_doc.problems), two_d_doc=two_d_doc.header
        )

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

    opaque = opaque_kind(data, rules) if symbology is None or symbology in QR_LIKE else None
    if opaque is not None:  # ordonnance numérique / ApCV QR: opaque tokens, never corrected
        return _simple(raw, symbology, opaque, extra, identifier=data)

    controls = [] if all(ch >= " " or ch in _ALLOWED_CONTROLS for ch in data) else [Problem.CONTROL_CHARACTER]
    return _simple(raw, symbology, "text", _merge(extra, controls))


__all__ = ["DEFAULT_GS_STAND_INS", "decode_bytes", "decode_text", "normalize_stand_ins"]
