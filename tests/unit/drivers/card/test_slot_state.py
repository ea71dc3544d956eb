"""The card slot state machine: observations in, the items to publish out (no pcscd, no asyncio)."""

from __future__ import annotations

from pathlib import Path

from passerelle.daemon.driver import DeviceChange, DeviceState, DriverEvent
from passerelle.drivers.card.atr import CardType, describe
from passerelle.drivers.card.config import PublicDataPolicy
from passerelle.drivers.card.events import CARD_SCHEMA
from passerelle.drivers.card.monitor import ReaderAdded, ReaderRemoved, ServiceDown, ServiceUp, SlotStatus
from passerelle.drivers.card.pcsc_api import STATE_EXCLUSIVE, STATE_INUSE, STATE_MUTE, STATE_PRESENT

from .slot_machine import (
    CPS3,
    KAPLINK,
    KAPLINK_ID,
    LEO,
    LEO_ID,
    SLOT0,
    SLOT1,
    UNKNOWN,
    VITALE1,
    VITALE2,
    card_event,
    empty,
    new_machine,
    plug_empty,
    present,
    statuses,
    summary,
)

NOW = 100.0


def test_a_reader_is_a_device_and_its_slot_state_follows_its_first_status() -> None:
    machine = new_machine()
    [change] = machine.observe(ReaderAdded(SLOT0), NOW)
    assert isinstance(change, DeviceChange) and not change.removed
    device = change.device
    assert (device.id, device.family, device.driver) == (KAPLINK_ID, "card", "pcsc")
    assert (device.model, device.interface, device.state) == (
        "Kapelse KAP-LINK2",
        KAPLINK,
        DeviceState.ONLINE,
    )
    [state] = machine.observe(empty(SLOT0), NOW)
    assert isinstance(state, DriverEvent)
    assert (state.schema, state.retained_state, state.device) == (CARD_SCHEMA, "state", device)
    assert summary([state]) == [("state", KAPLINK_ID, 0, None, None, None)]
    assert statuses(state) == ["empty"]
    assert machine.observe(empty(SLOT0), NOW) == []  # nothing new, nothing published


def test_an_inserted_card_is_classified_and_given_a_session() -> None:
    machine = new_machine()
    machine.observe(ReaderAdded(SLOT0), NOW)
    machine.observe(empty(SLOT0), NOW)
    [inserted] = machine.observe(present(SLOT0, VITALE2), NOW)
    data = card_event(inserted)
    assert (data.event, data.reader, data.reader_id, data.slot) == ("inserted", KAPLINK, KAPLINK_ID, 0)
    assert (data.atr, data.card_type, data.label) == (
        "3B 75 13 00 00 47 09 EA 90 00",
        CardType.VITALE2,
        "Carte Vitale 2",
    )
    assert (data.card_session_id, data.reason) == ("session-1", None)
    assert (data.patient_card_slot, data.professional_card_slot) == (0, None)
    [slot] = data.slots
    assert (slot.status, slot.card_type, slot.card_session_id) == ("present", CardType.VITALE2, "session-1")
    assert machine.observe(present(SLOT0, VITALE2), NOW) == []  # the same card, still there


def test_a_removed_card_is_named_with_the_session_it_had_and_the_slot_is_left_empty() -> None:
    machine = new_machine()
    machine.observe(ReaderAdded(SLOT0), NOW)
    machine.observe(present(SLOT0, CPS3), NOW)
    [removed] = machine.observe(empty(SLOT0), NOW)
    assert summary([removed]) == [("removed", KAPLINK_ID, 0, "cps3", "session-1", None)]
    data = card_event(removed)
    assert (data.atr, data.label, data.professional_card_slot) == (
        "3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00",
        "CPx 3 (contact)",
        None,
    )
    [slot] = data.slots
    assert (slot.status, slot.card_type, slot.atr, slot.card_session_id) == ("empty", None, None, None)


def test_every_insertion_gets_a_new_session_even_of_the_same_card() -> None:
    machine = new_machine()
    machine.observe(ReaderAdded(SLOT0), NOW)
    outputs = [
        *machine.observe(present(SLOT0, VITALE2), NOW),
        *machine.observe(empty(SLOT0), NOW),
        *machine.observe(present(SLOT0, VITALE2), NOW),
    ]
    assert [row[4] for row in summary(outputs)] == ["session-1", "session-1", "session-2"]


def test_the_same_card_pulled_and_put_back_between_two_polls_is_told_by_the_counter() -> None:
    machine = new_machine()
    machine.observe(ReaderAdded(SLOT0), NOW)
    machine.observe(present(SLOT0, VITALE2), NOW)
    outputs = machine.observe(present(SLOT0, VITALE2, card_events=2), NOW)
    assert summary(outputs) == [
        ("removed", KAPLINK_ID, 0, "vitale2", "session-1", None),
        ("inserted", KAPLINK_ID, 0, "vitale2", "session-2", None),
    ]
    assert statuses(outputs[0]) == ["empty"]  # in between, the slot was empty


def test_another_card_swapped_in_between_two_polls_is_told_by_its_atr() -> None:
    machine = new_machine()
    machine.observe(ReaderAdded(SLOT0), NOW)
    machine.observe(present(SLOT0, VITALE2), NOW)
    outputs = machine.observe(present(SLOT0, VITALE1), NOW)  # no counter (another PC/SC stack)
    assert summary(outputs) == [
        ("removed", KAPLINK_ID, 0, "vitale2", "session-1", None),
        ("inserted", KAPLINK_ID, 0, "vitale1", "session-2", None),
    ]


def test_a_bi_slot_reader_is_one_device_and_every_event_shows_both_slots() -> None:
    machine = new_machine()
    outputs = [*machine.observe(ReaderAdded(SLOT0), NOW), *machine.observe(ReaderAdded(SLOT1), NOW)]
    assert summary(outputs) == [("device", KAPLINK_ID, "online", None)]
    machine.observe(empty(SLOT0), NOW)
    [state1] = machine.observe(empty(SLOT1), NOW)
    assert statuses(state1) == ["empty", "empty"]
    machine.observe(present(SLOT0, VITALE2), NOW)
    [cps_in] = machine.observe(present(SLOT1, CPS3), NOW)
    data = card_event(cps_in)
    assert (data.slot, data.patient_card_slot, data.professional_card_slot) == (1, 0, 1)
    assert [(s.slot, s.card_type, s.card_session_id) for s in data.slots] == [
        (0, CardType.VITALE2, "session-1"),
        (1, CardType.CPS3, "session-2"),
    ]
    [cps_out] = machine.observe(empty(SLOT1), NOW)
    data = card_event(cps_out)
    assert (data.card_type, data.patient_card_slot, data.professional_card_slot) == (CardType.CPS3, 0, None)
    assert statuses(cps_out) == ["present", "empty"]


def test_a_reader_unplugged_with_a_card_in_reports_the_card_removed_then_goes_offline() -> None:
    machine = new_machine()
    machine.observe(ReaderAdded(LEO), NOW)
    machine.observe(present(LEO, CPS3), NOW)
    outputs = machine.observe(ReaderRemoved(LEO), NOW)
    assert summary(outputs) == [
        ("removed", LEO_ID, 0, "cps3", "session-1", "reader_removed"),
        ("device", LEO_ID, "offline", "reader removed"),
    ]
    assert statuses(outputs[0]) == ["unavailable"]
    assert machine.observe(present(LEO, CPS3), NOW) == []  # a late status of a gone reader
    assert machine.observe(ReaderRemoved(LEO), NOW) == []


def test_a_bi_slot_reader_goes_offline_only_when_its_last_slot_is_gone() -> None:
    machine = new_machine()
    plug_empty(machine, SLOT0, SLOT1)
    machine.observe(present(SLOT1, VITALE2), NOW)
    first = machine.observe(ReaderRemoved(SLOT0), NOW)
    assert summary(first) == [("state", KAPLINK_ID, 0, None, None, None)]
    assert statuses(first[0]) == ["unavailable", "present"]
    second = machine.observe(ReaderRemoved(SLOT1), NOW)
    assert summary(second) == [
        ("removed", KAPLINK_ID, 1, "vitale2", "session-1", "reader_removed"),
        ("device", KAPLINK_ID, "offline", "reader removed"),
    ]


def test_a_reader_plugged_back_with_another_index_is_the_same_device() -> None:
    machine = new_machine()
    machine.observe(ReaderAdded(SLOT0), NOW)
    machine.observe(ReaderRemoved(SLOT0), NOW)
    assert machine.readers[KAPLINK_ID].info.state is DeviceState.OFFLINE
    outputs = machine.observe(ReaderAdded(f"{KAPLINK} 01 00"), NOW)
    assert summary(outputs) == [("device", KAPLINK_ID, "online", None)]
    assert summary(machine.observe(present(f"{KAPLINK} 01 00", VITALE2), NOW)) == [
        ("inserted", KAPLINK_ID, 0, "vitale2", "session-1", None)
    ]
    assert machine.observe(empty(SLOT0), NOW) == []  # the old name means nothing now


def test_two_identical_readers_without_a_serial_are_told_apart_by_plug_order() -> None:
    machine = new_machine()
    first = machine.observe(ReaderAdded("Generic CCID 00 00"), NOW)
    second = machine.observe(ReaderAdded("Generic CCID 01 00"), NOW)
    assert summary([*first, *second]) == [
        ("device", "generic-ccid", "online", None),
        ("device", "generic-ccid-1", "online", None),
    ]
    machine.observe(present("Generic CCID 01 00", VITALE2), NOW)
    assert machine.readers["generic-ccid-1"].slots[0].card_session_id == "session-1"
    assert machine.readers["generic-ccid"].slots[0].card_session_id is None


def test_losing_pcscd_removes_every_card_and_takes_every_reader_offline_once() -> None:
    machine = new_machine()
    plug_empty(machine, SLOT0, SLOT1, LEO)
    machine.observe(present(SLOT1, CPS3), NOW)
    outputs = machine.observe(ServiceDown("pcscd went away"), NOW)
    assert summary(outputs) == [
        ("removed", KAPLINK_ID, 1, "cps3", "session-1", "pcscd_unavailable"),
        ("device", KAPLINK_ID, "offline", "pcscd unavailable"),
        ("state", LEO_ID, 0, None, None, "pcscd_unavailable"),  # no card: the state still says so
        ("device", LEO_ID, "offline", "pcscd unavailable"),
    ]
    assert statuses(outputs[0]) == ["unavailable", "unavailable"]
    assert statuses(outputs[2]) == ["unavailable"]
    assert machine.observe(ServiceDown("still away"), NOW) == []
    assert machine.observe(present(LEO, VITALE2), NOW) == []  # names are forgotten until listed again
    assert machine.observe(ServiceUp(), NOW) == []
    back = [*machine.observe(ReaderAdded(LEO), NOW), *machine.observe(present(LEO, VITALE2), NOW)]
    assert summary(back) == [
        ("device", LEO_ID, "online", None),
        ("inserted", LEO_ID, 0, "vitale2", "session-2", None),
    ]


def test_statuses_and_removals_of_names_never_listed_are_ignored() -> None:
    machine = new_machine()
    assert machine.observe(present("Nobody 00 00", VITALE2), NOW) == []
    assert machine.observe(ReaderRemoved("Nobody 00 00"), NOW) == []
    assert machine.observe(ServiceDown("no readers anyway"), NOW) == []


def test_in_use_by_our_own_read_is_not_a_state_change_but_another_applications_use_is() -> None:
    machine = new_machine()
    machine.observe(ReaderAdded(LEO), NOW)
    machine.observe(present(LEO, VITALE2), NOW)
    slot = machine.readers[LEO_ID].slots[0]
    slot.own_use_until = NOW + 1.0  # what the driver sets around its read
    assert machine.observe(present(LEO, VITALE2, extra_flags=STATE_INUSE), NOW) == []
    exclusive = machine.observe(present(LEO, VITALE2, extra_flags=STATE_EXCLUSIVE), NOW)
    assert summary(exclusive) == [("state", LEO_ID, 0, "vitale2", "session-1", None)]
    assert statuses(exclusive[0]) == ["in_use"]
    machine.observe(present(LEO, VITALE2), NOW)
    later = machine.observe(present(LEO, VITALE2, extra_flags=STATE_INUSE), NOW + 2.0)
    assert statuses(later[0]) == ["in_use"]
    assert card_event(later[0]).card_session_id == "session-1"  # the same insertion


def test_a_mute_card_is_inserted_without_a_type_and_never_read() -> None:
    machine = new_machine(reads_public_data=lambda reader_id, card_type: True)
    machine.observe(ReaderAdded(LEO), NOW)
    outputs = machine.observe(SlotStatus(LEO, STATE_PRESENT | STATE_MUTE, b"", 0), NOW)
    assert summary(outputs) == [("inserted", LEO_ID, 0, None, None, None)]
    assert statuses(outputs[0]) == ["mute"]
    [slot] = card_event(outputs[0]).slots
    assert (slot.card_type, slot.atr) == (None, None)


def test_an_unknown_card_is_reported_as_such_and_not_read() -> None:
    policy = PublicDataPolicy(readers=["*"])
    machine = new_machine(policy.allows, classify=lambda atr: describe(atr, Path("/nonexistent")))
    machine.observe(ReaderAdded(LEO), NOW)
    outputs = machine.observe(present(LEO, UNKNOWN), NOW)
    assert summary(outputs) == [("inserted", LEO_ID, 0, "unknown", "session-1", None)]
    data = card_event(outputs[0])
    assert (data.atr, data.label, data.patient_card_slot, data.professional_card_slot) == (
        "3B 02 14 50",
        None,
        None,
        None,
    )


def test_a_read_is_asked_for_after_the_insertion_only_where_the_policy_allows_it() -> None:
    asked: list[tuple[str, CardType]] = []
    policy = PublicDataPolicy(card_types=[CardType.VITALE2])

    def allows(reader_id: str, card_type: CardType) -> bool:
        asked.append((reader_id, card_type))
        return policy.allows(reader_id, card_type)

    machine = new_machine(allows)
    for name in (SLOT0, SLOT1):
        machine.observe(ReaderAdded(name), NOW)
    vitale = machine.observe(present(SLOT0, VITALE2), NOW)
    assert summary(vitale) == [
        ("inserted", KAPLINK_ID, 0, "vitale2", "session-1", None),
        ("read", KAPLINK_ID, 0),
    ]
    assert summary(machine.observe(present(SLOT1, CPS3), NOW)) == [
        ("inserted", KAPLINK_ID, 1, "cps3", "session-2", None)
    ]
    assert asked == [(KAPLINK_ID, CardType.VITALE2), (KAPLINK_ID, CardType.CPS3)]
    swapped = machine.observe(present(SLOT0, VITALE2, card_events=2), NOW)
    assert [row[0] for row in summary(swapped)] == ["removed", "inserted", "read"]  # the new card is read
