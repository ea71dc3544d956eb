"""What the slot logic answers to the card requests, and what a finished read may tell."""

from __future__ import annotations

import pytest

from passerelle.daemon.driver import RequestError
from passerelle.drivers.card.atr import CardType
from passerelle.drivers.card.config import PublicDataPolicy
from passerelle.drivers.card.monitor import ReaderAdded, ReaderRemoved
from passerelle.drivers.card.public_read import ReadResult
from passerelle.drivers.card.slot_state import settled_read

from .slot_machine import (
    CPS3,
    KAPLINK,
    KAPLINK_ID,
    LEO,
    SLOT0,
    SLOT1,
    VITALE1,
    VITALE2,
    empty,
    new_machine,
    plug_empty,
    present,
)

NOW = 100.0


def test_card_list_shows_every_reader_and_slot_offline_ones_too() -> None:
    machine = new_machine()
    plug_empty(machine, SLOT0, SLOT1, LEO)
    machine.observe(present(SLOT1, CPS3), NOW)
    machine.observe(ReaderRemoved(LEO), NOW)
    listing = machine.listing()
    assert [(r["reader_id"], r["reader"], r["state"]) for r in listing] == [
        (KAPLINK_ID, KAPLINK, "online"),
        ("ingenico-leo-77", "Ingenico Leo (77)", "offline"),
    ]
    assert listing[0]["slots"] == [
        {
            "slot": 0,
            "status": "empty",
            "card_type": None,
            "atr": None,
            "label": None,
            "card_session_id": None,
        },
        {
            "slot": 1,
            "status": "present",
            "card_type": "cps3",
            "atr": "3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00",
            "label": "CPx 3 (contact)",
            "card_session_id": "session-1",
        },
    ]
    assert listing[1]["slots"][0]["status"] == "unavailable"


@pytest.mark.parametrize(
    ("reader_id", "slot", "code"),
    [
        ("no-such-reader", None, "not_found"),
        (None, None, "not_found"),
        ("ingenico-leo-77", None, "no_card"),
        (KAPLINK_ID, 1, "no_card"),
    ],
)
def test_card_read_of_nothing_is_a_typed_error(reader_id: object, slot: object, code: str) -> None:
    machine = new_machine(PublicDataPolicy(card_types=[CardType.VITALE2]).allows)
    machine.observe(ReaderAdded(SLOT0), NOW)
    machine.observe(ReaderAdded(SLOT1), NOW)
    machine.observe(ReaderAdded(LEO), NOW)
    machine.observe(present(SLOT0, VITALE2), NOW)
    with pytest.raises(RequestError) as raised:
        list(machine.cards_to_read(reader_id, slot))
    assert raised.value.code == code


def test_card_read_names_every_card_of_the_reader_or_the_one_slot_asked_for() -> None:
    machine = new_machine(PublicDataPolicy(readers=[KAPLINK_ID]).allows)
    for name, atr in ((SLOT0, VITALE2), (SLOT1, CPS3)):
        machine.observe(ReaderAdded(name), NOW)
        machine.observe(present(name, atr), NOW)
    assert [slot.slot for _, slot in machine.cards_to_read(KAPLINK_ID, None)] == [0, 1]
    [(reader, slot)] = machine.cards_to_read(KAPLINK_ID, 1)
    assert (reader.info.id, slot.slot, slot.card_session_id) == (KAPLINK_ID, 1, "session-2")


def test_card_read_stops_at_a_card_the_policy_refuses_after_the_cards_before_it() -> None:
    machine = new_machine(PublicDataPolicy(card_types=[CardType.VITALE2]).allows)
    for name, atr in ((SLOT0, VITALE2), (SLOT1, VITALE1)):  # Vitale 1: nothing public to read
        machine.observe(ReaderAdded(name), NOW)
        machine.observe(present(name, atr), NOW)
    cards = machine.cards_to_read(KAPLINK_ID, None)
    assert next(cards)[1].slot == 0
    with pytest.raises(RequestError) as raised:
        next(cards)
    assert raised.value.code == "not_enabled"


def test_a_read_whose_card_stayed_keeps_its_result_errors_included() -> None:
    machine = new_machine()
    machine.observe(ReaderAdded(LEO), NOW)
    machine.observe(present(LEO, VITALE2), NOW)
    slot = machine.readers["ingenico-leo-77"].slots[0]
    for result in (ReadResult("ok"), ReadResult("error", "6A82"), ReadResult("timeout", "no answer")):
        assert settled_read(slot, "session-1", result) is result


def test_a_read_whose_card_was_pulled_or_swapped_meanwhile_is_card_removed() -> None:
    machine = new_machine()
    machine.observe(ReaderAdded(LEO), NOW)
    machine.observe(present(LEO, VITALE2), NOW)
    slot = machine.readers["ingenico-leo-77"].slots[0]
    machine.observe(present(LEO, VITALE2, card_events=2), NOW)  # swapped during the read
    assert settled_read(slot, "session-1", ReadResult("ok")).status == "card_removed"
    machine.observe(empty(LEO), NOW)  # pulled
    settled = settled_read(slot, "session-2", ReadResult("ok"))
    assert (settled.status, settled.error) == ("card_removed", "the card left the slot during the read")
