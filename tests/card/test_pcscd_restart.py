"""pcscd going away and coming back: cards reported gone, then everything announced again, without
restarting the driver."""

from __future__ import annotations

import asyncio
import time

from passerelle.daemon.driver import DeviceState
from passerelle.drivers.card.atr import CardType
from passerelle.simulators.card.isolated_pcscd import IsolatedPcscd
from passerelle.simulators.card.virtual_cards import make_card
from tests.card.conftest import Slots, run_driver
from tests.card.helpers import card_event, data_of, device_change

FAST_RECONNECT = {"reconnect_initial_s": 0.1, "reconnect_max_s": 0.5}


async def test_pcscd_killed_and_restarted_while_cards_are_in(slots: Slots, pcscd: IsolatedPcscd) -> None:
    async with run_driver(FAST_RECONNECT) as running:
        collector = running.collector
        slots.insert(make_card("vitale2"), slot=0)
        slots.insert(make_card("cps3"), slot=1)
        await collector.wait_for(card_event("inserted", slot=0))
        await collector.wait_for(card_event("inserted", slot=1))
        monitor = running.driver.monitor
        assert monitor is not None and monitor.contexts_established == 1

        mark = len(collector.items)
        await asyncio.to_thread(pcscd.stop, True)  # SIGKILL: a crash, not a clean exit
        gone0 = data_of(await collector.wait_for(card_event("removed", slot=0), after=mark))
        gone1 = data_of(await collector.wait_for(card_event("removed", slot=1), after=mark))
        assert gone0.reason == gone1.reason == "pcscd_unavailable"
        assert gone0.card_type is CardType.VITALE2
        await collector.wait_for(device_change(DeviceState.OFFLINE), after=mark)
        assert running.driver.devices()[0].state is DeviceState.OFFLINE

        # vpcd lived inside pcscd: the virtual cards were dropped with it. Put them back, as the
        # physical cards would still be in the reader.
        slots.remove_all()
        mark = len(collector.items)
        await asyncio.to_thread(pcscd.start)
        slots.insert(make_card("vitale2"), slot=0)
        slots.insert(make_card("cps3"), slot=1)
        await collector.wait_for(device_change(DeviceState.ONLINE), after=mark, timeout=10)
        back0 = data_of(await collector.wait_for(card_event("inserted", slot=0), after=mark))
        back1 = data_of(await collector.wait_for(card_event("inserted", slot=1), after=mark))
        assert (back0.card_type, back1.card_type) == (CardType.VITALE2, CardType.CPS3)
        assert running.driver.monitor is monitor and monitor.alive
        assert monitor.contexts_established >= 2
        assert running.driver.devices()[0].state is DeviceState.ONLINE


async def test_pcscd_absent_at_start_then_started(slots: Slots, pcscd: IsolatedPcscd) -> None:
    """At boot the socket-activated pcscd may not answer yet: the driver waits for it."""
    await asyncio.to_thread(pcscd.stop)
    async with run_driver(FAST_RECONNECT) as running:
        await asyncio.sleep(0)  # let the monitor try (and fail) at least once
        monitor = running.driver.monitor
        assert monitor is not None
        assert running.driver.devices() == []
        await asyncio.to_thread(pcscd.start)
        slots.insert(make_card("cps4"), slot=1)
        await running.collector.wait_for(device_change(DeviceState.ONLINE), timeout=10)
        event = data_of(await running.collector.wait_for(card_event("inserted", slot=1)))
        assert event.card_type is CardType.CPS4
        assert monitor.alive


async def test_pcscd_gone_with_empty_reader_marks_the_state_unavailable(
    slots: Slots, pcscd: IsolatedPcscd
) -> None:
    async with run_driver(FAST_RECONNECT) as running:
        await running.collector.wait_for(card_event("state", slot=1))
        mark = len(running.collector.items)
        await asyncio.to_thread(pcscd.stop)
        state = data_of(await running.collector.wait_for(card_event("state"), after=mark))
        assert state.reason == "pcscd_unavailable"
        assert [s.status for s in state.slots] == ["unavailable", "unavailable"]
        await running.collector.wait_for(device_change(DeviceState.OFFLINE), after=mark)


async def test_stop_cancels_the_pending_wait_on_a_real_pcscd(slots: Slots) -> None:
    async with run_driver({"status_wait_ms": 60000}) as running:
        await running.collector.wait_for(card_event("state", slot=1))
        monitor = running.driver.monitor
        assert monitor is not None
        started = time.monotonic()
        await running.driver.stop()
        assert time.monotonic() - started < 1.0  # SCardCancel, not the 60 s timeout
        assert not monitor.alive
