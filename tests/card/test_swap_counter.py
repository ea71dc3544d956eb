"""A card pulled and put back between two status calls: pcscd's event counter tells."""

from __future__ import annotations

import asyncio

from passerelle.drivers.card.atr import CardType
from passerelle.drivers.card.monitor import ReaderAdded, SlotStatus
from passerelle.drivers.card.pcsc_api import STATE_EMPTY, STATE_PRESENT, ScardApi
from passerelle.simulators.card.virtual_cards import ATRS, make_card
from tests.card.conftest import SLOT_NAMES, Slots, run_driver, wait_slots_state
from tests.card.helpers import card_event, data_of


async def test_pcscd_counts_a_swap_between_two_calls(slots: Slots) -> None:
    api = ScardApi()
    context = api.establish()
    try:
        first = slots.insert(make_card("vitale2"), slot=0)
        await asyncio.to_thread(wait_slots_state, STATE_PRESENT, (0,))
        _, states = api.get_status_change(context, 0, [(SLOT_NAMES[0], 0)])
        seen = states[0].event_state & ~0x2
        first.remove()
        await asyncio.to_thread(wait_slots_state, STATE_EMPTY, (0,))
        slots.insert(make_card("vitale2"), slot=0)  # the same kind of card: the same ATR
        await asyncio.to_thread(wait_slots_state, STATE_PRESENT, (0,))
        # A watcher that was busy during all this still learns two card events happened.
        rc, states = api.get_status_change(context, 0, [(SLOT_NAMES[0], seen)])
        assert rc == 0
        assert states[0].event_state & STATE_PRESENT
        assert (states[0].event_state >> 16) - (seen >> 16) == 2
    finally:
        api.release(context)


async def test_driver_reports_a_counted_swap_with_the_same_atr_as_remove_then_insert() -> None:
    """Feeds the driver's state machine the observation the previous test shows pcscd gives."""
    from tests.card.pcsc_double import HotplugPcsc

    async with run_driver(api=HotplugPcsc()) as running:
        driver = running.driver
        atr = bytes.fromhex(ATRS["vitale2"])
        apply = driver._apply  # noqa: SLF001 - its state machine fed directly: no public entry takes observations
        items = [
            *apply(ReaderAdded("Reader X 00 00")),
            *apply(SlotStatus("Reader X 00 00", STATE_PRESENT, atr, 0)),
            *apply(SlotStatus("Reader X 00 00", STATE_PRESENT, atr, 0)),  # nothing new
            *apply(SlotStatus("Reader X 00 00", STATE_PRESENT, atr, 2)),
        ]
        kinds = [data_of(i).event for i in items if card_event("inserted")(i) or card_event("removed")(i)]
        assert kinds == ["inserted", "removed", "inserted"]
        assert data_of(items[-1]).card_type is CardType.VITALE2
