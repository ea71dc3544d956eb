"""AIM symbology identifiers (``]`` + code letter + modifier) that scanners may prefix to data.

When present, the identifier decides first: it says whether the data is a GS1 message (FNC1 in
first position), a fixed-length EAN/UPC number, or free data, so the decoder never has to guess
what the symbol already told the scanner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_AIM = re.compile(r"\][A-Za-z][0-9A-Za-z]")

# Identifiers whose data is a GS1 element string by definition (ISO/IEC 15424 and GS1 GenSpecs
# 5.4.5): GS1-128, GS1 DataBar / composite, GS1 DataMatrix, GS1 QR, GS1 DotCode.
GS1_SYMBOLOGIES = frozenset({"]C1", "]e0", "]d2", "]Q3", "]J1"})
# 2D symbols with free data: URLs, e-prescription tokens, 2D-Doc, HIBC…
QR_LIKE = frozenset(
    {"]Q0", "]Q1", "]Q2", "]Q4", "]Q5", "]Q6", "]d1", "]d0", "]z0", "]z1", "]z2", "]z3", "]J0"}
)

NumericKind = Literal["ean13", "ean8", "gtin14"]


@dataclass(frozen=True)
class NumericSymbology:
    kind: NumericKind
    length: int


# Symbologies that carry exactly one GTIN of a fixed number of digits (EAN-13 also carries UPC-A
# as 13 digits with a leading 0; ITF-14 carries a GTIN-14).
NUMERIC_SYMBOLOGIES = {
    "]E0": NumericSymbology("ean13", 13),
    "]E4": NumericSymbology("ean8", 8),
    "]I1": NumericSymbology("gtin14", 14),
}


def split_aim(text: str) -> tuple[str | None, str]:
    """(identifier or None, data without it)."""
    if _AIM.match(text):
        return text[:3], text[3:]
    return None, text
