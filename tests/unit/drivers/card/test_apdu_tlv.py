"""APDU length conventions and TLV decoding, with the simulator's card logic as the other end."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.drivers.card import tlv
from passerelle.drivers.card.apdu import (
    ApduError,
    ProtocolError,
    exchange,
    read_binary_sfi,
    select_aid,
    select_file,
)
from passerelle.drivers.card.vitale import decode, iso_birth_date, read_beneficiaries
from passerelle.simulators.card.virtual_cards import (
    AID_VITALE,
    MF,
    SAMPLE_BENEFICIARIES,
    ErrorCard,
    FileCard,
    vitale2_files,
)
from passerelle.simulators.card.virtual_cards import tlv as encode_tlv


def test_get_response_chain_collects_all_chunks() -> None:
    content = bytes(range(200))
    card = FileCard(atr=b"\x3b\x00", files={MF: content}, chain=30)
    exchange(card.answer, select_file(MF))
    assert exchange(card.answer, read_binary_sfi(2)) == content
    assert sum(1 for apdu in card.apdus if apdu[1] == 0xC0) >= 6


def test_wrong_length_is_resent_with_the_card_s_le() -> None:
    card = FileCard(atr=b"\x3b\x00", files={MF: b"ABCDEFG"}, strict_le=True)
    exchange(card.answer, select_file(MF))
    assert exchange(card.answer, read_binary_sfi(2)) == b"ABCDEFG"
    assert card.apdus[-1][-1] == 7


def test_error_status_is_typed() -> None:
    with pytest.raises(ApduError) as error:
        exchange(ErrorCard(atr=b"\x3b\x00").answer, select_aid(AID_VITALE), "SELECT VITALE")
    assert error.value.sw == 0x6F00


def test_endless_chain_and_short_answers_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError):
        exchange(lambda capdu: b"\x61\x10", select_file(MF))
    with pytest.raises(ProtocolError):
        exchange(lambda capdu: b"\x90", select_file(MF))


def test_vitale2_beneficiaries_in_order_with_nirs() -> None:
    card = FileCard(atr=b"\x3b\x00", files=vitale2_files(SAMPLE_BENEFICIARIES))
    people = read_beneficiaries(card.answer)
    assert [(p.first_name, p.nir) for p in people] == [(b.first_name, b.nir) for b in SAMPLE_BENEFICIARIES]


def test_fewer_nirs_than_beneficiaries_leaves_nir_empty() -> None:
    files = vitale2_files(SAMPLE_BENEFICIARIES[:2])
    people = decode(files[MF], encode_tlv(0x93, SAMPLE_BENEFICIARIES[0].nir.encode()))
    assert [p.nir for p in people] == [SAMPLE_BENEFICIARIES[0].nir, None]


@pytest.mark.parametrize(
    "data",
    [bytes.fromhex("65"), bytes.fromhex("65 05 80"), bytes.fromhex("9F"), bytes.fromhex("65 83 00 00 01 00")],
)
def test_malformed_tlv(data: bytes) -> None:
    with pytest.raises(tlv.MalformedDataError):
        tlv.parse(data)


def test_long_lengths_and_two_byte_tags() -> None:
    value = b"x" * 300
    encoded = bytes([0x9F, 0x21, 0x82, 0x01, 0x2C]) + value + bytes([0x81, 0x81, 0x81]) + b"y" * 0x81
    items = tlv.parse(encoded)
    assert [(i.tag, len(i.value)) for i in items] == [(0x9F21, 300), (0x81, 0x81)]


@given(st.binary(max_size=64))
def test_tlv_parse_never_raises_anything_but_malformed(data: bytes) -> None:
    try:
        items = tlv.parse(data)
    except tlv.MalformedDataError:
        return
    for item in items:
        with contextlib.suppress(tlv.MalformedDataError):
            tlv.find_all([item], 0x65)


def test_birth_dates() -> None:
    assert iso_birth_date("19840312") == "1984-03-12"
    assert iso_birth_date("19840300") == "19840300"  # unknown day stays as on the card
    assert iso_birth_date("") == ""
