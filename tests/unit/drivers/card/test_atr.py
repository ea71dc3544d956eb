"""ATR classification and labels."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.drivers.card.atr import (
    SMARTCARD_LIST,
    AtrError,
    CardType,
    checksum_ok,
    classify,
    describe,
    lookup_label,
    parse_atr,
    tck_index,
)

CPS3_CONTACTLESS = parse_atr("3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E")


def with_tck(body: bytes) -> bytes:
    """TS..last historical byte, then the TCK that makes T0..TCK XOR to zero."""
    tck = 0
    for byte in body[1:]:
        tck ^= byte
    return body + bytes([tck])


def cps3_contactless_version(b8: int, b9: int, b11_low: int) -> bytes:
    """The contactless CPS3 ATR with the bytes its issuer varies (versions) set."""
    body = bytearray(CPS3_CONTACTLESS[:-1])
    body[8], body[9], body[11] = b8, b9, (body[11] & 0xC0) | b11_low
    return bytes(body)


@pytest.mark.parametrize(
    ("atr", "expected"),
    [
        *[(f"3B 75 13 00 00 4{x} 09 EA 90 00", CardType.VITALE2) for x in "3456789BC"],
        ("3B 75 13 00 00 4E 09 EA 90 00", CardType.VITALE2),  # a future issue still classifies
        ("3B 75 13 00 00 45 09 FA 90 00", CardType.VITALE2),
        ("3B 75 13 00 00 46 09 FA 90 00", CardType.UNKNOWN),  # FA only seen with 45
        ("3B 75 13 00 00 9C 02 02 01 02", CardType.UNKNOWN),  # a Cyberflex, same prefix
        ("3F 65 25 00 22 09 F9 90 00", CardType.VITALE1),
        ("3F 65 25 00 2C 09 69 90 00", CardType.VITALE1),
        ("3F 65 25 00 52 09 6A 90 00", CardType.VITALE1),
        ("3F 65 25 00 A3 09 6A 90 00", CardType.VITALE1),
        ("3F 65 25 00 A4 09 6A 90 00", CardType.VITALE1),
        ("3F 65 25 00 24 09 6B 90 00", CardType.UNKNOWN),  # Bull CP8 bank card, a neighbour
        ("3F 65 25 00 2B 09 62 90 00", CardType.UNKNOWN),  # parking card, a neighbour
        ("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00", CardType.CPS3),
        ("3B AC 00 40 2A 00 12 25 00 64 80 82 02 12 00 90 00", CardType.CPS3),
        ("3B AC 00 40 2A 00 12 25 00 64 80 82 02 12 00 90 01", CardType.UNKNOWN),
        ("3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E", CardType.CPS3_CONTACTLESS),
        ("3B 8F 80 01 00 31 B8 64 AA BB EC C1 73 94 01 80 82 90 00 AB", CardType.CPS3_CONTACTLESS),
        ("3B 8F 80 01 00 31 B8 64 AA BB EC C1 73 94 01 80 82 90 00 0E", CardType.UNKNOWN),  # stale TCK
        ("3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 45", CardType.UNKNOWN),  # CPS4, wrong TCK
        ("3B 8F 80 01 00 31 B8 64 04 B0 EC 01 73 94 01 80 82 90 00 0E", CardType.UNKNOWN),
        ("3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44", CardType.CPS4),
        ("3B 9B 18 80 01 00 12 25 00 64 80 00 04 01 00 90 44", CardType.CPS4),
        ("3B DC 18 FF 00 00 12 25 00 64 80 00 04 01 00 90 00", CardType.CPS4),  # also fits the CPS3 mask
        ("3B 02 14 50", CardType.UNKNOWN),
    ],
)
def test_classify(atr: str, expected: CardType) -> None:
    assert classify(parse_atr(atr)) is expected


@pytest.mark.parametrize(
    "text", ["3B:75:13:00:00:47:09:EA:90:00", "3b751300004709ea9000", " 3B 75 13 00 00 47 09 EA 90 00 "]
)
def test_parse_accepts_common_spellings(text: str) -> None:
    assert describe(parse_atr(text)).atr == "3B 75 13 00 00 47 09 EA 90 00"


@pytest.mark.parametrize("text", ["", "3B7", "zz 11", "3B", "3B " * 34, "hello"])
def test_garbage_atr_is_a_typed_error(text: str) -> None:
    with pytest.raises(AtrError):
        parse_atr(text)


def test_unknown_card_label_comes_from_installed_pcsc_tools_list() -> None:
    assert SMARTCARD_LIST.exists()
    found = describe(parse_atr("3F 65 25 00 24 09 6B 90 00"))
    assert found.card_type is CardType.UNKNOWN
    assert found.label is not None and "Postgirot" in found.label


def test_label_list_regex_lines_and_bad_lines(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(
        "# comment\n"
        "3B 02 14 5[0-9]\n\tOur test card\n\thttps://example.invalid\n\n"
        "3B 02 ([\n\tbroken regex line is skipped\n\n"
        "3B 03 .. 00 00\n\tDotted card\n"
    )
    assert lookup_label(parse_atr("3B 02 14 50"), listing) == "Our test card"
    assert lookup_label(parse_atr("3B 03 AA 00 00"), listing) == "Dotted card"
    assert lookup_label(parse_atr("3B 02 14 60"), listing) is None
    assert lookup_label(parse_atr("3B 02 14 50"), tmp_path / "missing.txt") is None


def test_known_types_use_our_label_not_the_list() -> None:
    assert describe(parse_atr("3B 75 13 00 00 47 09 EA 90 00")).label == "Carte Vitale 2"


@given(st.binary(min_size=2, max_size=33))
def test_any_atr_classifies_without_error(atr: bytes) -> None:
    assert classify(atr) in set(CardType)


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 0x3F))
def test_a_cps3_contactless_version_change_with_its_tck_classifies(b8: int, b9: int, b11_low: int) -> None:
    assert classify(with_tck(cps3_contactless_version(b8, b9, b11_low))) is CardType.CPS3_CONTACTLESS


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 0x3F), st.integers(1, 255))
def test_a_cps3_contactless_atr_with_a_wrong_tck_does_not(b8: int, b9: int, b11_low: int, error: int) -> None:
    atr = with_tck(cps3_contactless_version(b8, b9, b11_low))
    garbled = atr[:-1] + bytes([atr[-1] ^ error])
    assert not checksum_ok(garbled)
    assert classify(garbled) is CardType.UNKNOWN


@pytest.mark.parametrize(
    ("atr", "index"),
    [
        ("3B 75 13 00 00 47 09 EA 90 00", None),  # T=0 only: no TCK
        ("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00", None),  # TD1 says T=0 again
        ("3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44", 16),  # TD2 says T=1
        ("3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E", 19),
        ("3B 88 80", 3),  # cut short of its TD2: past the end, never checks
    ],
)
def test_tck_position_follows_the_interface_bytes(atr: str, index: int | None) -> None:
    assert tck_index(parse_atr(atr)) == index
