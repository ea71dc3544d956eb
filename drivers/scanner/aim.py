"""AIM symbology identifiers (``]`` + code letter + modifier) that scanners may prefix to data."""

from __future__ import annotations

import re

_AIM = re.compile(r"\][A-Za-z][0-9A-Za-z]")

# Identifiers whose data is a GS1 element string by definition.
GS1_SYMBOLOGIES = {"]C1", "]e0", "]d2", "]Q3", "]J1"}
QR_LIKE = {"]Q0", "]Q1", "]Q2", "]Q3", "]Q4", "]Q5", "]Q6", "]d1", "]d0", "]z0", "]z1", "]z2", "]z3"}


def split_aim(text: str) -> tuple[str | None, str]:
    """(identifier or None, data without it)."""
    if _AIM.match(text):
        return text[:3], text[3:]
    return None, text
