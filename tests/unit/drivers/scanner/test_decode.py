"""Decoding of scan text into the normalized payload, against public vectors."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from passerelle.drivers.scanner.checks import gs1_check_digit, gs1_check_ok, hibc_check_character
from passerelle.drivers.scanner.dates import gs1_year
from passerelle.drivers.scanner.decode import decode_bytes, decode_text
from passerelle.drivers.scanner.payload import Problem

TODAY = date(2026, 11, 24)
GS = "\x1d"


@pytest.mark.parametrize("number", ["24012345678905", "2112233789657", "416000336108", "02345680"])
def test_gs1_check_digit_public_vectors_valid(number: str) -> None:
    assert gs1_check_ok(number)
    assert gs1_check_digit(number[:-1]) == int(number[-1])


def test_gs1_check_digit_public_vector_invalid() -> None:
    assert not gs1_check_ok("24012345678909")
    payload = decode_text("24012345678909", today=TODAY)
    assert payload.kind == "gtin14"
    assert payload.problems == [Problem.CHECK_DIGIT_INVALID]
    assert not payload.valid


@pytest.mark.parametrize(
    ("raw", "kind", "gtin"),
    [
        ("2112233789657", "ean13", "02112233789657"),
        ("416000336108", "upc_a", "00416000336108"),
        ("02345680", "ean8", "00000002345680"),
        ("24012345678905", "gtin14", "24012345678905"),
    ],
)
def test_linear_gtins(raw: str, kind: str, gtin: str) -> None:
    payload = decode_text(raw, today=TODAY)
    assert (payload.kind, payload.gtin, payload.valid) == (kind, gtin, True)


def test_biip_readme_vector_with_aim_prefix() -> None:
    payload = decode_text("]C1010703206980498815210526100329", today=TODAY)
    assert payload.symbology == "]C1"
    assert payload.kind == "gs1"
    assert payload.gtin == "07032069804988"
    assert payload.lot == "0329"
    assert [e.ai for e in payload.elements or []] == ["01", "15", "10"]
    assert payload.valid


def test_medicine_datamatrix_gives_cip13_lot_serial_and_expiry() -> None:
    raw = f"]d2010340093000023617270300102AB1{GS}21XYZ98765"
    payload = decode_text(raw, today=TODAY)
    assert payload.raw == raw
    assert payload.kind == "gs1"
    assert payload.cip13 == "3400930000236"
    assert payload.lot == "2AB1"
    assert payload.serial == "XYZ98765"
    assert payload.expiry == date(2027, 3, 31)  # DD=00: last day of the month
    assert payload.valid


def test_dd00_in_leap_february() -> None:
    payload = decode_text("01034009300002361728020010A", today=TODAY)
    assert payload.expiry == date(2028, 2, 29)


def test_invalid_date_and_bad_gtin_are_flagged_not_dropped() -> None:
    payload = decode_text(f"0103400930000234171313311012{GS}21A", today=TODAY)
    assert set(payload.problems) == {Problem.CHECK_DIGIT_INVALID, Problem.INVALID_DATE}
    assert payload.gtin == "03400930000234"
    assert payload.expiry is None
    assert not payload.valid


def test_missing_separator_is_suspected() -> None:
    payload = decode_text("]d20103400930000236172703311012ABC21XYZ123", today=TODAY)
    assert Problem.MISSING_SEPARATOR_SUSPECTED in payload.problems
    assert payload.lot == "12ABC21XYZ123"  # reported as read, never "repaired"
    assert not payload.valid


def test_a_lot_that_merely_contains_digits_is_not_suspected() -> None:
    payload = decode_text(f"]d201034009300002361727033110AB12{GS}21S1", today=TODAY)
    assert payload.problems == []


def test_unknown_ai() -> None:
    payload = decode_text(f"]d201034009300002362312{GS}", today=TODAY)
    assert payload.kind == "gs1"
    assert Problem.UNKNOWN_AI in payload.problems or Problem.INVALID_FORMAT in payload.problems
    assert not payload.valid


def test_hri_with_parentheses() -> None:
    payload = decode_text("(01)03400930000236(17)270331(10)ABC", today=TODAY)
    assert (payload.kind, payload.cip13, payload.lot) == ("gs1", "3400930000236", "ABC")


def test_nhrn_711_france_is_reported_as_cip13() -> None:
    payload = decode_text(f"]d2010123456789012871134009300002361{GS}10X", today=TODAY)
    assert payload.cip13 is None or payload.cip13.startswith("3400")


def test_digital_link_behind_q1() -> None:
    payload = decode_text("]Q1https://id.gs1.org/01/09506000134352/10/ABC?17=270331", today=TODAY)
    assert payload.kind == "gs1"
    assert payload.gtin == "09506000134352"
    assert payload.expiry == date(2027, 3, 31)
    assert payload.url is not None
    assert payload.url.startswith("https://id.gs1.org/")


def test_plain_url() -> None:
    payload = decode_text("https://example.org/manual", today=TODAY)
    assert (payload.kind, payload.url, payload.valid) == ("url", "https://example.org/manual", True)


@pytest.mark.parametrize(
    ("raw", "kind", "valid"),
    [
        ("3400930000236", "cip13", True),
        ("3400000000237", "cip13", False),  # month 00: not NIR-shaped, so shown despite its bad check
        ("3400892112343", "ucd13", None),
        ("3401560012347", "acl13", None),
        ("5012345678900", "ean13", True),
    ],
)
def test_french_ean13_families(raw: str, kind: str, valid: bool | None) -> None:
    payload = decode_text(raw, today=TODAY)
    assert payload.kind == kind
    assert payload.valid == (gs1_check_ok(raw) if valid is None else valid)
    assert (payload.cip13 is not None) == (kind == "cip13")


def test_gtin14_of_a_cip13_also_reports_the_cip13() -> None:
    payload = decode_text("03400930000236", today=TODAY)
    assert (payload.kind, payload.cip13) == ("gtin14", "3400930000236")


def test_rpps_and_finess_labels() -> None:
    assert decode_text("]C010003456786", today=TODAY).model_dump(include={"kind", "identifier"}) == {
        "kind": "rpps",
        "identifier": "10003456786",
    }
    assert decode_text("750712184", today=TODAY).kind == "finess"


# HIBC vectors: ANSI/HIBC 2.x worked examples as used by public barcode libraries.
@pytest.mark.parametrize(
    ("raw", "lic", "pcn", "lot", "serial", "expiry"),
    [
        ("+A123BJC5D6E71G", "A123", "BJC5D6E7", None, None, None),
        ("+H123ABC01234567890D", "H123", "ABC0123456789", None, None, None),
        ("+A123BJC5D6E71/$$52001510X3C", "A123", "BJC5D6E7", "10X3", None, date(2020, 1, 15)),
        ("+A123BJC5D6E71G+$$52001510X3GD", "A123", "BJC5D6E7", "10X3", None, date(2020, 1, 15)),
        ("+A123BJC5D6E71G+$$+52001510X3GB", "A123", "BJC5D6E7", None, "10X3", date(2020, 1, 15)),
        ("+A123BJC5D6E71G+$$710X3G7", "A123", "BJC5D6E7", "10X3", None, None),
        ("+A123BJC5D6E71G+2001510X3GG", "A123", "BJC5D6E7", "10X3", None, date(2020, 1, 15)),
        ("+A123BJCMD6E79++$$52001510X3+ ", "A123", "BJCMD6E7", "10X3", None, date(2020, 1, 15)),
        ("+J123AQ3451/$$1125BC34567/S4012L", "J123", "AQ345", "BC34567", "4012", date(2025, 11, 30)),
        ("+J123AQ3451/$$3231231BC34567/S4012R", "J123", "AQ345", "BC34567", "4012", date(2023, 12, 31)),
        (
            "+A123ABCDEFGHI1234567891/$$420020216LOT123456789012345/SXYZ456789012345678/16D20130202$",
            "A123",
            "ABCDEFGHI123456789",
            "LOT123456789012345",
            "XYZ456789012345678",
            date(2020, 2, 2),
        ),
        (
            "+A99912345/$$81210X3/16D20111212/14D20200906/S77DEFG45$",
            "A999",
            "1234",
            "10X3",
            "77DEFG45",
            date(2020, 9, 6),
        ),
        (
            "+A99912345/$$90234510X3/16D20111212/14D20200906/S77DEFG458",
            "A999",
            "1234",
            "10X3",
            "77DEFG45",
            date(2020, 9, 6),
        ),
    ],
)
def test_hibc_vectors(
    raw: str, lic: str, pcn: str, lot: str | None, serial: str | None, expiry: date | None
) -> None:
    payload = decode_text(raw, today=TODAY)
    assert payload.kind == "hibc"
    assert payload.problems == []
    assert payload.hibc is not None
    assert (payload.hibc.lic, payload.hibc.pcn) == (lic, pcn)
    assert (payload.lot, payload.serial, payload.expiry) == (lot, serial, expiry)


def test_hibc_quantity_forms() -> None:
    assert decode_text("+A99912345/$$81210X3/16D20111212/14D20200906/S77DEFG45$", today=TODAY).hibc
    payload = decode_text("+A99912345/$$90234510X3/16D20111212/14D20200906/S77DEFG458", today=TODAY)
    assert payload.hibc is not None
    assert payload.hibc.quantity == 2345
    assert payload.production_date == date(2011, 12, 12)


@pytest.mark.parametrize("flag", ["2", "3", "4", "5", "6"])
def test_hibc_every_dollar_dollar_date_flag(flag: str) -> None:
    date_text = {"2": "033127", "3": "270331", "4": "27033114", "5": "27090", "6": "2709014"}[flag]
    body = f"+$${flag}{date_text}LOT42"
    # A secondary-only symbol: link character, then Mod 43 check over everything before it.
    data = body + "G"
    raw = data + (hibc_check_character(data) or "")
    payload = decode_text(raw, today=TODAY)
    assert payload.kind == "hibc"
    assert payload.problems == []
    assert payload.lot == "LOT42"
    assert payload.expiry == date(2027, 3, 31)
    assert payload.hibc is not None
    assert payload.hibc.link == "G"


def test_hibc_dollar_forms_lot_only_and_serial_only() -> None:
    for prefix, field in (("$", "lot"), ("$+", "serial")):
        data = f"+A123BJC5D6E71/{prefix}ABC42"
        payload = decode_text(data + (hibc_check_character(data) or ""), today=TODAY)
        assert payload.problems == []
        assert getattr(payload, field) == "ABC42"


def test_hibc_bad_check_character() -> None:
    payload = decode_text("+A123BJC5D6E71H", today=TODAY)
    assert payload.problems == [Problem.CHECK_DIGIT_INVALID]


def test_two_d_doc_header() -> None:
    payload = decode_text("DC04FR0000011E6A1E6A0101FR10DUPONT\x1d", today=TODAY)
    assert payload.kind == "two_d_doc"
    assert payload.two_d_doc is not None
    assert payload.two_d_doc.ca_id == "FR00"
    assert payload.two_d_doc.document_date == date(2000, 1, 1) + timedelta(days=0x1E6A)
    assert payload.two_d_doc.perimeter == "01"
    assert payload.two_d_doc.country == "FR"


def test_iso15434_and_iccbba_pass_through() -> None:
    envelope = "[)>\x1e06\x1d1PABC\x1dS123\x1e\x04"
    assert decode_text(envelope, today=TODAY).model_dump(include={"kind", "raw", "valid"}) == {
        "kind": "iso15434",
        "raw": envelope,
        "valid": True,
    }
    assert decode_text("[)>\x1e06\x1d1PABC", today=TODAY).problems == [Problem.TRUNCATED]
    assert decode_text("=A99971234567", today=TODAY).kind == "iccbba"


def test_e_prescription_is_opaque_and_never_corrected() -> None:
    token = "1A2B3C4D5E6F7G8H9J0K"
    payload = decode_text("]Q1" + token, today=TODAY)
    assert (payload.kind, payload.identifier, payload.valid) == ("e_prescription", token, True)


def test_not_utf8_bytes_give_a_typed_problem() -> None:
    payload = decode_bytes(b"LOT\xff\xfe42", today=TODAY)
    assert Problem.NOT_UTF8 in payload.problems
    assert payload.raw == "LOT\\xff\\xfe42"
    assert not payload.valid


def test_gs_stand_in_is_normalized() -> None:
    payload = decode_text("]d2010340093000023610ABC\uf71b21XYZ", today=TODAY)
    assert payload.lot == "ABC"
    assert payload.serial == "XYZ"
    assert "\x1d" in payload.raw


def test_empty_and_control_characters() -> None:
    assert decode_text("", today=TODAY).problems == [Problem.EMPTY]
    assert decode_text("AB\x1bC", today=TODAY).problems == [Problem.CONTROL_CHARACTER]


def test_gs1_century_rule() -> None:
    assert gs1_year(76, date(2026, 1, 1)) == 2076
    assert gs1_year(77, date(2026, 1, 1)) == 1977
    assert gs1_year(99, date(2051, 1, 1)) == 2099


def _nir(body: str) -> str:
    numeric = body.replace("2A", "19").replace("2B", "18")
    return body + f"{97 - int(numeric) % 97:02d}"


@pytest.mark.parametrize("body", ["1850575123456", "2910199001002", "185052A123456", "185052B123456"])
def test_nir_is_redacted_unless_opted_in(body: str) -> None:
    nir = _nir(body)
    redacted = decode_text(nir, today=TODAY)
    assert redacted.redacted
    assert nir not in redacted.model_dump_json()
    assert redacted.raw == "*" * 15
    published = decode_text(nir, today=TODAY, allow_nir=True)
    assert (published.raw, published.redacted) == (nir, False)


def test_fifteen_digits_with_a_wrong_nir_key_are_not_redacted() -> None:
    nir = _nir("1850575123456")
    wrong = nir[:13] + f"{(int(nir[13:]) + 1) % 97:02d}"
    assert not decode_text(wrong, today=TODAY).redacted


# Vectors from biip's own GS1 message tests, as a scanner with AIM prefixes would send them.
def test_biip_vector_lot_swallowing_the_best_before_date_is_flagged() -> None:
    payload = decode_text("]C1010703206980498810032915210526", today=TODAY)
    assert payload.lot == "032915210526"
    assert payload.problems == [Problem.MISSING_SEPARATOR_SUSPECTED]
    fixed = decode_text(f"]C10107032069804988100329{GS}15210526", today=TODAY)
    assert (fixed.lot, fixed.problems) == ("0329", [])


@pytest.mark.parametrize(
    ("raw", "ais"),
    [
        (f"]C1010703206980498815210526100329{GS}", ["01", "15", "10"]),  # trailing GS
        (f"]C1010703206980498815210526{GS}100329", ["01", "15", "10"]),  # GS after a fixed-length field
        (f"]C10107032069804988100329{GS}{GS}15210526", ["01", "10", "15"]),  # double GS
        (f"]d201070320698049887230EM123{GS}7231EM456{GS}7232EM789", ["01", "7230", "7231", "7232"]),
        ("]C1800307071324001021085952", ["8003"]),  # biip's GRAI with its check digit corrected
    ],
)
def test_biip_vectors_redundant_separators_and_long_ais(raw: str, ais: list[str]) -> None:
    payload = decode_text(raw, today=TODAY)
    assert [e.ai for e in payload.elements or []] == ais
    assert payload.valid


def test_biip_grai_vector_has_a_wrong_check_digit() -> None:
    # biip's GRAI example "8003 0 7071324001022 085952" fails the GS1 check digit (1 expected, not 2).
    payload = decode_text("]C1800307071324001022085952", today=TODAY)
    assert payload.problems == [Problem.CHECK_DIGIT_INVALID]


def test_biip_vector_data_left_after_a_full_lot() -> None:
    payload = decode_text("]C11022222222222222222222aaa", today=TODAY)
    assert payload.kind == "gs1"
    assert Problem.UNKNOWN_AI in payload.problems
