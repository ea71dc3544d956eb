"""Card events against a real pcscd with our virtual cards in vpcd's two slots."""

from __future__ import annotations

import asyncio

import pytest

from passerelle.daemon.driver import DeviceChange, DriverEvent
from passerelle.drivers.card.atr import CardType
from passerelle.drivers.card.pcsc_api import STATE_EMPTY
from passerelle.simulators.card.virtual_cards import ATRS, VirtualCard, make_card
from passerelle.testing.support import wait_until
from tests.card.conftest import READER_ID, Slots, run_driver, wait_slots_state
from tests.card.helpers import card_event, data_of


async def test_reader_announced_with_both_slots_empty(slots: Slots) -> None:
    async with run_driver() as running:
        change = await running.collector.wait_for(lambda i: isinstance(i, DeviceChange))
        assert isinstance(change, DeviceChange)
        assert change.device.id == READER_ID
        assert change.device.family == "card"
        state = data_of(await running.collector.wait_for(card_event("state", slot=1)))
        assert [(s.slot, s.status) for s in state.slots] == [(0, "empty"), (1, "empty")]
        assert [d.id for d in running.driver.devices()] == [READER_ID]


async def test_insert_and_remove_in_both_slots(slots: Slots) -> None:
    async with run_driver() as running:
        await running.collector.wait_for(card_event("state", slot=1))
        vitale = slots.insert(make_card("vitale2"), slot=0)
        inserted = await running.collector.wait_for(card_event("inserted", slot=0))
        assert isinstance(inserted, DriverEvent)
        assert inserted.retained_state == "state"
        assert data_of(inserted).card_type is CardType.VITALE2
        assert data_of(inserted).atr == ATRS["vitale2"]
        assert data_of(inserted).patient_card_slot == 0

        cps = slots.insert(make_card("cps4"), slot=1)
        second = data_of(await running.collector.wait_for(card_event("inserted", slot=1)))
        assert second.card_type is CardType.CPS4
        assert (second.patient_card_slot, second.professional_card_slot) == (0, 1)
        assert [s.status for s in second.slots] == ["present", "present"]

        vitale.remove()
        removed = data_of(await running.collector.wait_for(card_event("removed", slot=0)))
        assert removed.card_type is CardType.VITALE2  # the removed card is named
        assert removed.reason is None
        assert [s.status for s in removed.slots] == ["empty", "present"]
        cps.remove()
        last = data_of(await running.collector.wait_for(card_event("removed", slot=1)))
        assert last.professional_card_slot is None


async def test_two_cards_at_once_told_apart_by_atr_not_slot_order(slots: Slots) -> None:
    """A reader whose slots swapped (CPS in slot 0, Vitale in slot 1) is still read right."""
    async with run_driver() as running:
        slots.insert(make_card("cps3"), slot=0)
        slots.insert(make_card("vitale2"), slot=1)
        first = await running.collector.wait_for(card_event("inserted", slot=0))
        second = await running.collector.wait_for(card_event("inserted", slot=1))
        latest = max(first, second, key=running.collector.index_of)
        state = data_of(latest)
        assert (state.patient_card_slot, state.professional_card_slot) == (1, 0)
        assert data_of(first).card_type is CardType.CPS3


async def test_quick_remove_and_insert_is_two_events(slots: Slots) -> None:
    async with run_driver() as running:
        first = slots.insert(make_card("vitale2"), slot=0)
        await running.collector.wait_for(card_event("inserted", slot=0, card_type=CardType.VITALE2))
        first.remove()
        # vpcd hides a swap done before its next presence poll (no slot interrupt as on CCID
        # readers): put the next card in as soon as pcscd has seen the slot empty.
        await asyncio.to_thread(wait_slots_state, STATE_EMPTY, (0,))
        slots.insert(make_card("vitale1"), slot=0)
        removed = await running.collector.wait_for(card_event("removed", slot=0))
        after = running.collector.index_of(removed)
        again = await running.collector.wait_for(card_event("inserted", slot=0), after=after)
        assert data_of(again).card_type is CardType.VITALE1


@pytest.mark.parametrize("kind", ["vitale1", "vitale2", "cps3", "cps3_contactless", "cps4", "unknown"])
async def test_each_type_classified(slots: Slots, kind: str) -> None:
    async with run_driver() as running:
        slots.insert(make_card(kind), slot=1)
        event = data_of(await running.collector.wait_for(card_event("inserted", slot=1)))
        assert event.card_type == CardType(kind)
        assert event.atr == ATRS[kind]
        assert event.label  # our own label, or pcsc-tools' for the unknown card


async def test_card_already_inserted_at_start_is_reported(slots: Slots) -> None:
    slots.insert(make_card("cps3_contactless"), slot=0)
    async with run_driver() as running:
        event = data_of(await running.collector.wait_for(card_event("inserted", slot=0)))
        assert event.card_type is CardType.CPS3_CONTACTLESS


async def test_garbage_atr_is_unknown_and_driver_keeps_running(slots: Slots) -> None:
    async with run_driver() as running:
        garbage = slots.insert(VirtualCard(atr=bytes.fromhex("00 11 22 33 44")), slot=0)
        event = data_of(await running.collector.wait_for(card_event("inserted", slot=0)))
        assert event.card_type is CardType.UNKNOWN
        assert event.label is None
        garbage.remove()
        await running.collector.wait_for(card_event("removed", slot=0))
        slots.insert(make_card("cps4"), slot=0)
        await running.collector.wait_for(card_event("inserted", slot=0, card_type=CardType.CPS4))


async def test_mute_card_gives_no_insertion_then_a_real_card_does(slots: Slots) -> None:
    async with run_driver() as running:
        await running.collector.wait_for(card_event("state", slot=0))
        mute = slots.insert(make_card("mute"), slot=0)
        # vpcd asks the mute card for its ATR and gets nothing: no card is seen in that slot.
        await wait_until(lambda: mute.controls.get_atr >= 1, 5.0, "vpcd polled the mute card")
        slots.insert(make_card("vitale2"), slot=1)
        await running.collector.wait_for(card_event("inserted", slot=1))
        assert not [i for i in running.collector.items if card_event("inserted", slot=0)(i)]
        mute.remove()
        slots.insert(make_card("cps3"), slot=0)
        await running.collector.wait_for(card_event("inserted", slot=0, card_type=CardType.CPS3))
