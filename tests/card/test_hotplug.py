"""Reader hot-plug (with a double of the PC/SC calls: vpcd cannot plug readers)."""

from __future__ import annotations

import time

import pytest

from passerelle.daemon.driver import DeviceChange, DeviceState
from passerelle.testing.support import wait_until
from tests.card.conftest import run_driver
from tests.card.helpers import card_event, data_of, device_change
from tests.card.pcsc_double import HotplugPcsc

KAPLINK = "Kapelse KAP-LINK2 [CCID] (ABC123)"
KAPLINK_ID = "kapelse-kap-link2-ccid-abc123"


async def test_reader_plugged_unplugged_and_plugged_again_with_another_index() -> None:
    pcsc = HotplugPcsc()
    async with run_driver(api=pcsc) as running:
        collector = running.collector
        pcsc.plug(f"{KAPLINK} 00 00", f"{KAPLINK} 00 01")
        change = await collector.wait_for(device_change(DeviceState.ONLINE))
        assert isinstance(change, DeviceChange)
        assert change.device.id == KAPLINK_ID
        assert change.device.model == "Kapelse KAP-LINK2"
        state = data_of(await collector.wait_for(card_event("state", slot=1)))
        assert [s.status for s in state.slots] == ["empty", "empty"]

        mark = len(collector.items)
        pcsc.unplug(f"{KAPLINK} 00 00", f"{KAPLINK} 00 01")
        gone = await collector.wait_for(device_change(DeviceState.OFFLINE), after=mark)
        assert isinstance(gone, DeviceChange) and gone.device.id == KAPLINK_ID

        # Plugged back after another reader took index 00: same device id.
        mark = len(collector.items)
        pcsc.plug("Ingenico Leo (77) 00 00")
        pcsc.plug(f"{KAPLINK} 01 00", f"{KAPLINK} 01 01")
        back = await collector.wait_for(
            lambda i: isinstance(i, DeviceChange) and i.device.id == KAPLINK_ID, after=mark
        )
        assert isinstance(back, DeviceChange) and back.device.state is DeviceState.ONLINE
        await collector.wait_for(
            lambda i: isinstance(i, DeviceChange) and i.device.id == "ingenico-leo-77", after=mark
        )
        assert sorted(d.id for d in running.driver.devices()) == ["ingenico-leo-77", KAPLINK_ID]


async def test_stop_cancels_a_long_wait_at_once() -> None:
    pcsc = HotplugPcsc()
    async with run_driver({"status_wait_ms": 60000}, api=pcsc) as running:
        pcsc.plug("Some Reader 00 00")
        await running.collector.wait_for(device_change(DeviceState.ONLINE))
        started = time.monotonic()
        await running.driver.stop()
        assert time.monotonic() - started < 1.0
        assert pcsc.cancels >= 1
        monitor = running.driver.monitor
        assert monitor is None


async def test_a_second_pcscd_socket_in_one_process_is_a_clear_error(pcscd: object) -> None:
    from passerelle.drivers.card.pcsc_api import ScardApi

    ScardApi()  # this process has used libpcsclite (the session's private pcscd)
    with pytest.raises(RuntimeError, match="one pcscd per process"):
        async with run_driver({"devices": [{"pcsc_socket": "/elsewhere/pcscd.comm"}]}):
            pass


async def test_two_identical_readers_without_serial_get_distinct_ids() -> None:
    pcsc = HotplugPcsc()
    async with run_driver(api=pcsc) as running:
        pcsc.plug("Generic CCID 00 00")
        await running.collector.wait_for(device_change(DeviceState.ONLINE))
        pcsc.plug("Generic CCID 01 00")
        await running.collector.wait_for(
            lambda i: isinstance(i, DeviceChange) and i.device.id == "generic-ccid-1"
        )
        assert sorted(d.id for d in running.driver.devices()) == ["generic-ccid", "generic-ccid-1"]


async def test_reader_unplugged_with_a_card_in_it() -> None:
    from passerelle.drivers.card.atr import CardType
    from passerelle.simulators.card.virtual_cards import ATRS

    pcsc = HotplugPcsc()
    async with run_driver(api=pcsc) as running:
        pcsc.plug("Ingenico Leo (9) 00 00", card=bytes.fromhex(ATRS["cps3"]))
        inserted = data_of(await running.collector.wait_for(card_event("inserted", slot=0)))
        assert inserted.card_type is CardType.CPS3
        listing = await running.driver.request_handlers()["card-list"]({})
        assert listing[0]["reader_id"] == "ingenico-leo-9"
        assert listing[0]["slots"][0]["card_type"] == "cps3"
        mark = len(running.collector.items)
        pcsc.unplug("Ingenico Leo (9) 00 00")
        removed = data_of(await running.collector.wait_for(card_event("removed", slot=0), after=mark))
        assert removed.reason == "reader_removed" and removed.card_type is CardType.CPS3
        assert [s.status for s in removed.slots] == ["unavailable"]
        await running.collector.wait_for(device_change(DeviceState.OFFLINE), after=mark)


class RefusingPcsc(HotplugPcsc):
    """pcscd accepts the context but refuses everything else (as when polkit denies us)."""

    def __init__(self) -> None:
        super().__init__()
        self.establishments = 0

    def establish(self) -> int:
        self.establishments += 1
        return 1

    def list_readers(self, context: int) -> list[str]:
        from passerelle.drivers.card.pcsc_api import PcscError

        raise PcscError("SCardListReaders", 0x80100069)


async def test_a_refusing_pcscd_is_retried_with_backoff_not_in_a_tight_loop() -> None:
    pcsc = RefusingPcsc()
    async with run_driver({"reconnect_initial_s": 0.05, "reconnect_max_s": 0.4}, api=pcsc) as running:
        started = time.monotonic()
        await wait_until(lambda: pcsc.establishments >= 4, 5.0, "four attempts")
        elapsed = time.monotonic() - started
        monitor = running.driver.monitor
        assert monitor is not None and monitor.alive
    # Between attempts 1..4 the monitor waited 0.05 + 0.1 + 0.2 s; a tight loop would take microseconds.
    assert elapsed >= 0.3
