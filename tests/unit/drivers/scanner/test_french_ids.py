"""RPPS / FINESS by their Luhn key and symbology; e-prescription, ApCV and 2D-Doc kinds; the rest is
``text``."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from passerelle.drivers.scanner.config import ScannerSection
from passerelle.drivers.scanner.decode import decode_text
from passerelle.drivers.scanner.french import luhn_ok
from passerelle.drivers.scanner.payload import Problem

TODAY = date(2026, 6, 1)
RPPS = "10101234564"  # Luhn key 4
FINESS = "750712184"  # a real FINESS number (AP-HP): Luhn key 4
SIGNATURE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# 2D-Doc v04 header: CA FR01, certificate AB12, dates 0x2A3F / 0x2A40 days after 2000-01-01,
# document type 01, perimeter 01, country FR.
HEADER_V04 = "DC04FR01AB122A3F2A400101FR"


def test_luhn_rule() -> None:
    assert luhn_ok(RPPS) and luhn_ok(FINESS)
    assert not luhn_ok("10101234567")
    assert not luhn_ok("1010123456²")
    assert luhn_ok("23171234562")  # the serial below that has a good key and still is no RPPS


@pytest.mark.parametrize("raw", [RPPS, "]C0" + RPPS])
def test_rpps_with_its_key_from_code_128_or_no_identifier(raw: str) -> None:
    payload = decode_text(raw, today=TODAY)
    assert (payload.kind, payload.identifier, payload.valid) == ("rpps", RPPS, True)


@pytest.mark.parametrize(
    "raw",
    [
        "23171234567",  # a CPAP serial number: 11 digits, wrong key
        "10101234567",  # RPPS-like but the key is wrong
        "23171234562",  # right Luhn key but no RPPS starts with 23
        "]d1" + RPPS,  # a DataMatrix is not how prescription labels are printed
        "]I0" + RPPS,  # nor an ITF
    ],
)
def test_a_device_serial_never_becomes_a_prescriber(raw: str) -> None:
    payload = decode_text(raw, today=TODAY)
    assert payload.kind == "text"
    assert payload.identifier is None


def test_finess_by_its_key() -> None:
    assert decode_text(FINESS, today=TODAY).kind == "finess"
    assert decode_text("]C0" + FINESS, today=TODAY).identifier == FINESS
    for not_finess in ("750712185", "123456789", "]A0" + FINESS):
        assert decode_text(not_finess, today=TODAY).kind == "text", not_finess
    # The symbology decides first: nine digits read as an EAN-13 are a broken EAN-13, never a FINESS.
    broken_ean = decode_text("]E0" + FINESS, today=TODAY)
    assert (broken_ean.kind, broken_ean.valid, broken_ean.identifier) == ("ean13", False, None)


@pytest.mark.parametrize(
    "raw",
    [
        "LOT24A117X",  # a lot label
        "REF-1234-56/B",  # a part number
        "]Q1PN1234567890AB",  # a short QR token
        "185057800608437",  # 15 digits, bad NIR key
        "https-not-a-url-token",
    ],
)
def test_everything_unknown_is_text_not_a_prescription(raw: str) -> None:
    payload = decode_text(raw, today=TODAY)
    assert payload.kind == "text"
    assert payload.identifier is None


def test_default_e_prescription_and_apcv_patterns() -> None:
    token = "1A2B3C4D5E6F7G8H9J0K"
    assert decode_text("]Q1" + token, today=TODAY).model_dump(include={"kind", "identifier"}) == {
        "kind": "e_prescription",
        "identifier": token,
    }
    apcv = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhcGN2In0.c2lnbmF0dXJlLWJ5dGVz"
    assert decode_text("]Q1" + apcv, today=TODAY).kind == "apcv"
    assert decode_text("]d1" + token, today=TODAY).kind == "e_prescription"  # a DataMatrix-like 2D code
    assert decode_text("]C0" + token, today=TODAY).kind == "text"  # not a 2D code


def test_configured_patterns_replace_the_defaults() -> None:
    section = ScannerSection.model_validate(
        {"e_prescription_patterns": [r"ON-[0-9]{12}"], "apcv_patterns": [r"APCV:[A-Z0-9]{8,}"]}
    )
    rules = section.rules()
    assert decode_text("ON-123456789012", today=TODAY, rules=rules).kind == "e_prescription"
    assert decode_text("APCV:ABCD1234", today=TODAY, rules=rules).kind == "apcv"
    assert decode_text("1A2B3C4D5E6F7G8H9J0K", today=TODAY, rules=rules).kind == "text"
    with pytest.raises(ValueError, match="not a valid regular expression"):
        ScannerSection.model_validate({"apcv_patterns": ["(unclosed"]})


def test_two_d_doc_v04_with_signature_is_valid() -> None:
    payload = decode_text(HEADER_V04 + "10JEAN\x1d20DUPONT\x1f" + SIGNATURE, today=TODAY)
    assert (payload.kind, payload.valid, payload.problems) == ("two_d_doc", True, [])
    header = payload.two_d_doc
    assert header is not None
    assert (header.version, header.ca_id, header.certificate_id) == (4, "FR01", "AB12")
    assert header.document_type == "01"
    assert (header.perimeter, header.country) == ("01", "FR")
    assert header.document_date == date(2000, 1, 1) + timedelta(days=0x2A3F)
    assert header.signature_date == date(2000, 1, 1) + timedelta(days=0x2A40)


@pytest.mark.parametrize(
    ("raw", "version", "size"),
    [
        ("DC01FR01AB122A3F2A4001", 1, 22),
        ("DC02FR01AB122A3FFFFF01", 2, 22),
        ("DC03FR01AB122A3F2A400101", 3, 24),
    ],
)
def test_two_d_doc_header_length_follows_the_version(raw: str, version: int, size: int) -> None:
    payload = decode_text(raw + "10X\x1f" + SIGNATURE, today=TODAY)
    assert payload.valid
    assert payload.two_d_doc is not None
    assert payload.two_d_doc.version == version
    assert (payload.two_d_doc.perimeter is None) == (size < 24)
    assert (payload.two_d_doc.country is None) == (size < 26)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (HEADER_V04 + "10JEAN", Problem.SIGNATURE_MISSING),  # no US, no signature
        (HEADER_V04 + "10JEAN\x1fnot base32!", Problem.SIGNATURE_MISSING),
        ("DC04FR01AB12ZZZZ2A400101FR10X\x1f" + SIGNATURE, Problem.INVALID_FORMAT),  # date not hex
        ("DC05FR01AB122A3F2A400101FR\x1f" + SIGNATURE, Problem.INVALID_FORMAT),  # unknown version
        ("DC04FR01", Problem.INVALID_FORMAT),  # cut short
        ("DC0³FR01AB122A3F2A400101FR", Problem.INVALID_FORMAT),
    ],
)
def test_malformed_two_d_doc_is_an_invalid_two_d_doc(raw: str, problem: Problem) -> None:
    payload = decode_text(raw, today=TODAY)
    assert payload.kind == ("two_d_doc" if raw[3].isascii() else "text")
    assert not payload.valid or payload.kind == "text"
    if payload.kind == "two_d_doc":
        assert payload.problems == [problem]
