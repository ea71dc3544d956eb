"""Reader identity stable across plug order."""

from __future__ import annotations

import pytest

from passerelle.drivers.card.identity import device_id, parse_reader_name


def test_name_index_slot_serial_interface() -> None:
    name = parse_reader_name("Kapelse KAP-LINK2 [CCID Interface] (ABC123) 01 00")
    assert (name.base, name.index, name.slot) == ("Kapelse KAP-LINK2 [CCID Interface] (ABC123)", 1, 0)
    assert (name.serial, name.interface, name.model) == ("ABC123", "CCID Interface", "Kapelse KAP-LINK2")
    assert device_id(name) == "kapelse-kap-link2-ccid-interface-abc123"


def test_same_id_whatever_the_plug_order_index() -> None:
    ids = {device_id(parse_reader_name(f"Ingenico Leo (0001) {nn:02X} 01")) for nn in range(4)}
    assert ids == {"ingenico-leo-0001"}


def test_serial_tells_two_identical_readers_apart() -> None:
    a = device_id(parse_reader_name("Xiring Leo v2 (111) 00 00"))
    b = device_id(parse_reader_name("Xiring Leo v2 (222) 01 00"))
    assert a != b


@pytest.mark.parametrize("name", ["Some reader", "Ünïcode Réader ♥", "", "   "])
def test_foreign_names_still_give_a_topic_safe_id(name: str) -> None:
    ident = device_id(parse_reader_name(name))
    assert ident and all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in ident)
    assert parse_reader_name(name).slot == 0
