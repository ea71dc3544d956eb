"""GS1 rules driven by the Syntax Dictionary, HRI checked like raw element strings, and the AIM
symbology identifier deciding the parser (issue 10, items 2-4)."""

from __future__ import annotations

from datetime import date

import pytest

from passerelle.drivers.scanner.decode import decode_text
from passerelle.drivers.scanner.gs1 import encode_gs1
from passerelle.drivers.scanner.gs1_dictionary import ai_table
from passerelle.drivers.scanner.gs1_linters import LINTERS, UNCHECKED
from passerelle.drivers.scanner.payload import Problem

TODAY = date(2026, 11, 24)
GS = "\x1d"
GTIN = "03400930000236"  # a CIP13 in AI 01 form, valid check digit


def _problems(text: str) -> set[Problem]:
    return set(decode_text(text, today=TODAY).problems)


# Item 2: the bracketed form goes through the same checks.


def test_hri_month_13_is_an_invalid_date() -> None:
    payload = decode_text("(01)03400939345215(17)281330(10)AB12", today=TODAY)
    assert (payload.kind, payload.valid) == ("gs1", False)
    assert payload.problems == [Problem.INVALID_DATE]


def test_hri_13_digit_gtin_is_an_invalid_length() -> None:
    payload = decode_text("(01)3400930000236(17)270331", today=TODAY)
    assert (payload.kind, payload.valid) == ("gs1", False)
    assert Problem.INVALID_LENGTH in payload.problems


def test_hri_space_in_a_lot_is_reported_not_dropped() -> None:
    payload = decode_text(f"(01){GTIN}(17)270331(10)AB 12", today=TODAY)
    assert payload.problems == [Problem.INVALID_CHARACTER]
    assert payload.lot == "AB 12"


@pytest.mark.parametrize(
    "elements",
    [
        [("01", GTIN), ("17", "281330"), ("10", "AB12")],
        [("01", GTIN), ("17", "270300"), ("10", "A B"), ("21", "S1")],
        [("01", "03400930000237"), ("10", "L1")],
        [("10", "L1"), ("21", "S1")],
        [("01", GTIN), ("7003", "2703001200")],
    ],
)
def test_hri_and_raw_forms_get_the_same_verdict(elements: list[tuple[str, str]]) -> None:
    raw = decode_text("]d2" + encode_gs1(elements), today=TODAY)
    hri = decode_text("".join(f"({ai}){value}" for ai, value in elements), today=TODAY)
    assert (hri.problems, hri.elements, hri.valid) == (raw.problems, raw.elements, raw.valid)


# Item 3: rules that were missing.


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("]C100123456789012345670", Problem.CHECK_DIGIT_INVALID),  # SSCC
        (f"]C101{GTIN}4101234567890127", Problem.CHECK_DIGIT_INVALID),  # GLN: ship to
        (f"]C101{GTIN}10A{GS}10B", Problem.REPEATED_AI_CONFLICT),
        (f"]d201{GTIN}70032703001200", Problem.INVALID_DATE),  # 7003 has no "day 00"
        (f"]C101{GTIN}02{GTIN}", Problem.EXCLUDED_AI_PAIR),
        ("]d221SERIAL1", Problem.REQUIRED_AI_MISSING),  # a serial names nothing without a GTIN
        (f"]d201{GTIN}10AB#1", Problem.INVALID_CHARACTER),  # "#" is not in CSET 82
        ("]E4023456739", Problem.INVALID_LENGTH),  # EAN-8 identifier, 9 digits
        ("]E0416000336108", Problem.INVALID_LENGTH),  # EAN-13 identifier, 12 digits
    ],
)
def test_missing_rules_are_now_checked(text: str, problem: Problem) -> None:
    payload = decode_text(text, today=TODAY)
    assert problem in payload.problems
    assert not payload.valid


def test_the_same_ai_twice_with_the_same_value_is_fine() -> None:
    assert _problems(f"]C101{GTIN}10A{GS}10A") == set()


def test_valid_sscc_and_gln() -> None:
    assert _problems("]C100123456789012345675") == set()
    assert _problems(f"]C101{GTIN}4101234567890128") == set()


def test_17_day_00_is_still_the_end_of_the_month() -> None:
    payload = decode_text(f"]d201{GTIN}17270200", today=TODAY)
    assert (payload.problems, payload.expiry) == ([], date(2027, 2, 28))


def test_7007_harvest_date_range_is_one_field() -> None:
    payload = decode_text(f"]C101{GTIN}7007211225211231", today=TODAY)
    assert [(e.ai, e.value) for e in payload.elements or []] == [("01", GTIN), ("7007", "211225211231")]
    assert payload.valid


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://id.gs1.org/01/03400930000237", Problem.CHECK_DIGIT_INVALID),
        ("https://id.gs1.org/01/3400930000236", Problem.INVALID_LENGTH),
        (f"https://id.gs1.org/01/{GTIN}/21/S1/10/L1", Problem.INVALID_FORMAT),  # qualifiers out of order
        (f"https://id.gs1.org/01/{GTIN}?17=271301", Problem.INVALID_DATE),
        (f"https://id.gs1.org/01/{GTIN}?89=X", Problem.UNKNOWN_AI),
    ],
)
def test_an_invalid_digital_link_is_not_a_valid_plain_url(url: str, problem: Problem) -> None:
    payload = decode_text("]Q1" + url, today=TODAY)
    assert (payload.kind, payload.valid) == ("gs1", False)
    # A 13-digit run outside a whole-scan EAN-13 is NIR-shaped and masked (docs/scanners.md), even here.
    assert payload.url == url or payload.redacted
    assert problem in payload.problems


def test_an_unreadable_url_is_a_payload_not_an_error() -> None:
    payload = decode_text(f"]Q1https://[fe80/01/{GTIN}", today=TODAY)
    assert payload.kind == "url"


def test_a_digital_link_behind_a_resolver_prefix() -> None:
    payload = decode_text(f"https://example.org/produits/01/{GTIN}/10/L1?17=270331", today=TODAY)
    assert (payload.kind, payload.valid, payload.lot, payload.cip13) == ("gs1", True, "L1", GTIN[1:])


def test_every_dictionary_ai_has_a_consistent_definition() -> None:
    table = ai_table()
    assert len(table) > 500
    for definition in table.values():
        assert 1 <= definition.min_length <= definition.max_length <= 90
        if definition.predefined_length:
            assert definition.min_length == definition.max_length


def test_every_linter_the_dictionary_names_is_checked_or_left_out_on_purpose() -> None:
    """A new dictionary release naming a new content rule must not pass unnoticed."""
    named = {name for d in ai_table().values() for c in d.components for name in c.linters}
    assert named <= set(LINTERS) | UNCHECKED
    assert not set(LINTERS) & UNCHECKED


# Item 4: the symbology identifier decides first.


@pytest.mark.parametrize(
    ("text", "kind", "valid"),
    [
        ("]E03400930000236", "cip13", True),
        ("]E03400930000237", "cip13", False),
        ("]E402345680", "ean8", True),
        ("]E4ABCDEFGH", "ean8", False),
        ("]I124012345678905", "gtin14", True),
        ("]I12401234567890", "gtin14", False),
        ("]d2+A123BJC5D6E71G", "gs1", False),  # GS1 DataMatrix: never read as HIBC
        ("]Q3https://id.gs1.org/01/09506000134352", "gs1", False),  # GS1 QR holds AIs, not a URL
        ("]A0+A123BJC5D6E71G", "hibc", True),
        (f"]Q1https://id.gs1.org/01/{GTIN}", "gs1", True),
        (f"]d1https://id.gs1.org/01/{GTIN}", "gs1", True),
    ],
)
def test_symbology_identifier_decides_the_parser(text: str, kind: str, valid: bool) -> None:
    payload = decode_text(text, today=TODAY)
    assert (payload.kind, payload.valid) == (kind, valid)
