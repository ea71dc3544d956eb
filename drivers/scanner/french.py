"""French identifiers: CIP13 / ACL13 / UCD13 among EAN-13s, RPPS and FINESS labels, 2D-Doc headers."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from drivers.scanner.payload import TwoDDocHeader

Ean13Kind = Literal["cip13", "acl13", "ucd13", "ean13"]


def ean13_kind(digits: str) -> Ean13Kind:
    """Which French family a 13-digit code belongs to, by its prefix (check digit not considered).

    3400x is the CIP13 range except 34008 (UCD13, dispensing units); 3401 is ACL13 (parapharmacy,
    medical devices sold in pharmacies). Anything else is a plain EAN-13.
    """
    if digits.startswith("34008"):
        return "ucd13"
    if digits.startswith("3400"):
        return "cip13"
    if digits.startswith("3401"):
        return "acl13"
    return "ean13"


_TWO_D_DOC_SIZES = {1: 22, 2: 22, 3: 24, 4: 26}
_EPOCH = date(2000, 1, 1)


def _hex_days(text: str) -> date | None:
    if text.upper() == "FFFF":
        return None
    return _EPOCH + timedelta(days=int(text, 16))


def two_d_doc_header(text: str) -> TwoDDocHeader | None:
    """The header of an ANTS 2D-Doc (``DC`` + version + CA + certificate + dates + type …), or None
    when ``text`` does not start with a well-formed one. The signature is not verified here."""
    if not text.startswith("DC") or len(text) < 22 or not text[2:4].isdigit():
        return None
    version = int(text[2:4])
    size = _TWO_D_DOC_SIZES.get(version)
    if size is None or len(text) < size:
        return None
    header = text[:size]
    ca_id, certificate_id = header[4:8], header[8:12]
    try:
        document_date, signature_date = _hex_days(header[12:16]), _hex_days(header[16:20])
    except ValueError:
        return None
    if not (ca_id.isalnum() and certificate_id.isalnum()):
        return None
    return TwoDDocHeader(
        version=version,
        ca_id=ca_id,
        certificate_id=certificate_id,
        document_date=document_date,
        signature_date=signature_date,
        document_type=header[20:22],
        perimeter=header[22:24] if size >= 24 else None,
        country=header[24:26] if size >= 26 else None,
    )
