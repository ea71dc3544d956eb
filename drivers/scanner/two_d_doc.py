"""ANTS 2D-Doc: the header (read by its version), and whether a signature follows the message.

The signature itself is not verified (that needs the ANTS certificate chain); ``valid`` says that the
header parses and that a Base32 signature section is present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from passerelle.drivers.scanner.payload import Problem, TwoDDocHeader

# Header length by version: v01/v02 end with the document type, v03 adds the perimeter, v04 the
# issuing country.
_HEADER_SIZES = {1: 22, 2: 22, 3: 24, 4: 26}
_START = re.compile(r"DC0[0-9]")
_ALPHANUMERIC = re.compile(r"[0-9A-Z]{4}")
_HEX_DAYS = re.compile(r"[0-9A-Fa-f]{4}")
_BASE32 = re.compile(r"[A-Z2-7]+=*")
_EPOCH = date(2000, 1, 1)
_UNIT_SEPARATOR = "\x1f"  # ends the message zone; the signature follows
_GROUP_SEPARATOR = "\x1d"  # ends the signature when an annex follows (v03+)


@dataclass
class TwoDDoc:
    header: TwoDDocHeader | None
    problems: list[Problem] = field(default_factory=list)


def looks_like_two_d_doc(data: str) -> bool:
    """``DC`` then a two-digit version: a 2D-Doc, well formed or not."""
    return _START.match(data) is not None


def _days(text: str) -> date | None:
    """Days since 2000-01-01 in four hex digits; FFFF means "no date"."""
    return None if text.upper() == "FFFF" else _EPOCH + timedelta(days=int(text, 16))


def _header(data: str) -> TwoDDocHeader | None:
    size = _HEADER_SIZES.get(int(data[2:4]))
    if size is None or len(data) < size:
        return None
    ca_id, certificate_id, document_type = data[4:8], data[8:12], data[20:22]
    dates = data[12:16], data[16:20]
    if not (_ALPHANUMERIC.fullmatch(ca_id) and _ALPHANUMERIC.fullmatch(certificate_id)):
        return None
    if not all(_HEX_DAYS.fullmatch(text) for text in dates) or not document_type.isalnum():
        return None
    return TwoDDocHeader(
        version=int(data[2:4]),
        ca_id=ca_id,
        certificate_id=certificate_id,
        document_date=_days(dates[0]),
        signature_date=_days(dates[1]),
        document_type=document_type,
        perimeter=data[22:24] if size >= 24 else None,
        country=data[24:26] if size >= 26 else None,
    )


def _signature_present(data: str) -> bool:
    _, separator, rest = data.partition(_UNIT_SEPARATOR)
    signature = rest.partition(_GROUP_SEPARATOR)[0]
    return bool(separator) and _BASE32.fullmatch(signature) is not None


def decode_two_d_doc(data: str) -> TwoDDoc:
    """The header and problems of text that ``looks_like_two_d_doc``."""
    header = _header(data)
    if header is None:
        return TwoDDoc(None, [Problem.INVALID_FORMAT])
    return TwoDDoc(header, [] if _signature_present(data) else [Problem.SIGNATURE_MISSING])
