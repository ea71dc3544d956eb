"""French identifiers: CIP13 / ACL13 / UCD13 among EAN-13s, and the RPPS / FINESS numbers printed as
Code 128 on paper prescriptions, recognised by their key rather than by their length."""

from __future__ import annotations

from typing import Literal

Ean13Kind = Literal["cip13", "acl13", "ucd13", "ean13"]
HealthIdKind = Literal["rpps", "finess"]

# Paper prescriptions print the prescriber and facility numbers as Code 128 (AIM ``]C0``). A scanner
# that sends no AIM identifier gives no say; any other symbology (EAN, DataMatrix, QR, ITF…) is not
# how these numbers are printed, so its digits are never taken for one.
PRESCRIPTION_LABEL_SYMBOLOGIES = frozenset({None, "]C0"})


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


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) key over every digit, the last one being the key."""
    if not (digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def health_id_kind(digits: str, symbology: str | None) -> HealthIdKind | None:
    """RPPS (prescriber) or FINESS (facility) number, or None.

    RPPS: 11 digits starting with 10 (every number issued so far), Luhn key. FINESS: 9 digits, Luhn
    key. ADELI numbers (9 digits, Luhn key) pass the FINESS check and cannot be told apart by their
    digits; they are reported as ``finess``. A number of the right length with a wrong key, or read
    from a symbology these labels are not printed in, is not an identifier: a device serial must
    never become a prescriber or an establishment.
    """
    if symbology not in PRESCRIPTION_LABEL_SYMBOLOGIES or not luhn_ok(digits):
        return None
    if len(digits) == 11 and digits.startswith("10"):
        return "rpps"
    if len(digits) == 9:
        return "finess"
    return None
