"""Finding NIRs anywhere in a scan and applying ``nir_mode`` to every field that holds one.

A NIR-shaped run is a run of digits (2A/2B allowed for Corsica) in which single spaces, dots,
non-breaking or thin spaces may separate the characters. It is a NIR when, once the separators are
removed, it is

- 13 characters with the shape of a NIR body (``passerelle.drivers.nir``), unless the whole scan is those 13
  digits and they are a valid EAN-13 (a CIP13 or any product code with a good check digit stays
  readable; the same digits after a label, in a GS1 field or in a URL are masked), or
- 15 characters: a NIR body and its correct key.

Runs are taken whole: 13 or 15 characters between non-digits. Inside longer runs NIRs are also looked
for, but only where free text can hold one: the raw text of scans that are not GS1 or HIBC, GS1
company-internal AIs 91-99, opaque identifiers. There a keyed NIR (15 characters whose key checks)
is found anywhere in the run, and a 13-character body too when the run is written with separators
(a person's way of writing it) or sits in a 2D-Doc (whose fields are glued to their two-character
ids). Elsewhere a long digit run is a GTIN, a serial or a date, and sliding over it would blank real
product data.

What is found in one field is masked in all of them, ``raw`` included (a NIR in AI 91 also sits in
the raw GS1 string).
"""

from __future__ import annotations

import re
from typing import Any

from passerelle.drivers.nir import NirMode, nir_body_shaped, nir_hash, nir_key, nir_key_ok
from passerelle.drivers.scanner.checks import gs1_check_ok
from passerelle.drivers.scanner.payload import ScanPayload
from passerelle.drivers.scanner.rules import ScanRules

_SEPARATORS = " .\u00a0\u202f\u2009"
_TOKEN = r"(?:[0-9]|(?<=2)[AB])"
_RUN = re.compile(rf"[0-9](?:[{_SEPARATORS}]?{_TOKEN})*")
_LONG_RUN = re.compile(rf"[0-9](?:[{_SEPARATORS}]?{_TOKEN}){{12,}}")  # 13 characters or more
_DROP_SEPARATORS = str.maketrans("", "", _SEPARATORS)
_FREE_TEXT_AIS = frozenset(f"9{n}" for n in range(1, 10))
# GS1 AIs whose value is a check-digit key or a date by definition: a GTIN with a bad check digit is a
# misread product, not a person.
_NUMERIC_AIS = frozenset({"00", "01", "02", "03", "11", "12", "13", "15", "16", "17"})
_NUMERIC_FIELDS = frozenset({"gtin", "cip13"})
_STRUCTURED_KINDS = frozenset({"gs1", "hibc"})
MASK = "*"


def _windows(run: str, compact: str, bodies: bool) -> list[str]:
    """NIRs inside a longer run, as written in ``run`` (separators included): keyed ones, and with
    ``bodies`` also 13-character bodies without their key."""
    positions = [i for i, char in enumerate(run) if char not in _SEPARATORS]
    found, start = [], 0
    while start + 13 <= len(compact):
        if nir_key_ok(compact[start : start + 15]):
            size = 15
        elif bodies and nir_body_shaped(compact[start : start + 13]):
            size = 13
        else:
            start += 1
            continue
        found.append(run[positions[start] : positions[start + size - 1] + 1])
        start += size
    return found


def find_nirs(
    text: str, inside_runs: bool = False, scan_data: bool = False, glued_fields: bool = False
) -> list[str]:
    """The NIRs in ``text`` as written there. ``inside_runs``: also inside longer digit runs (free
    text); ``scan_data``: ``text`` is a whole scan, which may be an EAN-13; ``glued_fields``: a
    2D-Doc, whose fields start right after a two-character id."""
    found = []
    for match in _LONG_RUN.finditer(text):
        run = match.group()
        compact = run.translate(_DROP_SEPARATORS)
        if len(compact) == 13:
            product_code = scan_data and compact == text and gs1_check_ok(compact)
            if nir_body_shaped(compact) and not product_code:
                found.append(run)
        elif len(compact) == 15 and nir_key_ok(compact):
            found.append(run)
        elif len(compact) > 13 and inside_runs:
            found.extend(_windows(run, compact, bodies=glued_fields or compact != run))
    return found


def is_whole_nir(data: str) -> bool:
    """Whether the scan's data is nothing but one NIR (possibly with separators)."""
    return find_nirs(data, scan_data=True) == [data]


def canonical(nir: str) -> str:
    """The 15-character NIR (key computed when it was written without one), for hashing."""
    compact = nir.translate(_DROP_SEPARATORS)
    return compact if len(compact) == 15 else compact + f"{nir_key(compact):02d}"


def _collect(value: Any, inside_runs: bool, found: set[str]) -> None:
    if isinstance(value, str):
        found.update(find_nirs(value, inside_runs))
    elif isinstance(value, dict):
        ai = value.get("ai")
        if ai in _NUMERIC_AIS:
            return
        for key, item in value.items():
            if key not in _NUMERIC_FIELDS:
                _collect(item, inside_runs or ai in _FREE_TEXT_AIS, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, inside_runs, found)


def _mask(value: Any, written: list[str]) -> Any:
    if isinstance(value, str):
        for nir in written:
            value = value.replace(nir, MASK * len(nir))
        return value
    if isinstance(value, dict):
        return {key: _mask(item, written) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item, written) for item in value]
    return value


def nirs_in(payload: ScanPayload) -> set[str]:
    """Every NIR in the payload's fields, as written."""
    if _LONG_RUN.search(payload.raw) is None:
        return set()  # every other field is cut from raw: no long digit run there, no NIR anywhere
    found: set[str] = set()
    structured = payload.kind in _STRUCTURED_KINDS
    # A GS1 or HIBC raw string is fields glued together: its digit runs are not numbers of their own,
    # so only the parsed fields are searched (what they hold is then masked in raw too).
    fields = payload.model_dump(exclude={"raw", "identifier"} | (_NUMERIC_FIELDS if structured else set()))
    _collect(fields, False, found)
    if not structured or (payload.kind == "gs1" and payload.elements is None):  # unparsed: only text
        data = payload.raw[len(payload.symbology or "") :]
        found.update(find_nirs(data, True, scan_data=True, glued_fields=payload.kind == "two_d_doc"))
    _collect(payload.identifier, True, found)
    return found


def apply_nir_mode(payload: ScanPayload, rules: ScanRules) -> ScanPayload:
    """The payload with every NIR masked (redact, hash) and, in hash mode, their HMACs listed."""
    if rules.nir_mode is NirMode.CLEAR:
        return payload
    found = nirs_in(payload)
    if not found:
        return payload
    compact = {nir.translate(_DROP_SEPARATORS) for nir in found}
    written = sorted(found | compact, key=len, reverse=True)  # longest first: no partial leftovers
    masked = _mask(payload.model_dump(), written)
    masked["redacted"] = True
    if rules.nir_mode is NirMode.HASH and rules.nir_salt:
        masked["nir_hashes"] = sorted({nir_hash(canonical(nir), rules.nir_salt) for nir in found})
    return ScanPayload.model_validate(masked)
