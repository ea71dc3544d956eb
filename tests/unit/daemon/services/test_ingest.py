"""Ingest: drivers' events to the outbox, acknowledged once stored or failed with why; never hanging."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from passerelle.daemon.delivery import DeliveryTracker, EventTooLargeError
from passerelle.daemon.driver import DeviceChange, DeviceInfo, DriverEvent, DriverItem
from passerelle.daemon.inventory import Inventory
from passerelle.daemon.metrics import EventTallies
from passerelle.daemon.outbox import Outbox
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.services import ingest as ingest_module
from passerelle.daemon.services.ingest import Ingest
from passerelle.daemon.topics import Topics
from tests.core.family_support import PlainDriver
from tests.unit.daemon.services.scan_family import Scan, ScanFamily

TOPICS = Topics("passerelle/st-1")


class Desk(PlainDriver):
    name = "zscan/desk"
    device = DeviceInfo(id="desk-1", family="zscan", driver="desk")

    async def events(self) -> AsyncIterator[DriverItem]:
        return
        yield


DRIVER = Desk()


def make(outbox: Outbox, max_payload_bytes: int | None = None) -> Ingest:
    retained = RetainedStore()
    delivery = DeliveryTracker(max_payload_bytes=max_payload_bytes, tries=3, v5=False)
    ingest = Ingest(
        station="st-1",
        topics=TOPICS,
        inventory=Inventory(TOPICS, retained),
        retained=retained,
        outbox=outbox,
        tallies=EventTallies(),
        refuse_oversized=delivery.refuse_oversized,
    )
    ingest.adopt(DRIVER, ScanFamily())
    return ingest


def event(
    code: str = "123", *, device_id: str = "desk-1", schema: str = "test.scan/1", state: str | None = None
) -> DriverEvent:
    return DriverEvent(
        device=DeviceInfo(id=device_id, family="zscan", driver="desk"),
        schema=schema,
        data=Scan(code=code),
        retained_state=state,
        ack=asyncio.get_running_loop().create_future(),
    )


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    opened = Outbox(tmp_path / "outbox.sqlite3", max_events=100, max_bytes=100_000, when_full="refuse")
    await opened.open()
    yield opened
    await opened.close()


async def test_an_event_is_acknowledged_once_committed_on_its_channel(outbox: Outbox) -> None:
    ingest = make(outbox)
    item = event(state="last-scan")
    await ingest.accept(DRIVER, item)
    assert item.ack is not None
    await asyncio.wait_for(item.ack, 5)
    [row] = await outbox.fetch(0, 10)
    assert row.topic == "passerelle/st-1/scan"
    assert json.loads(row.payload)["data"] == {"code": "123"}
    assert ingest.retained.get("passerelle/st-1/desk-1/last-scan") == row.payload
    assert ingest.tallies.received == {"zscan": 1}


async def test_an_undeclared_schema_goes_to_the_familys_own_topic(outbox: Outbox) -> None:
    ingest = make(outbox)
    item = event(schema="test.scan/2")
    await ingest.accept(DRIVER, item)
    assert item.ack is not None
    await asyncio.wait_for(item.ack, 5)
    rows = await outbox.fetch(0, 10)
    assert [r.topic for r in rows] == ["passerelle/st-1/zscan"]


async def test_a_device_change_goes_to_the_inventory_not_the_outbox(outbox: Outbox) -> None:
    ingest = make(outbox)
    await ingest.accept(DRIVER, DeviceChange(DRIVER.device))
    assert ingest.inventory.devices == {"desk-1": DRIVER.device}
    assert outbox.count == 0


async def test_an_event_for_an_invalid_device_id_is_refused_to_its_driver(outbox: Outbox) -> None:
    ingest = make(outbox)
    item = event(device_id="bridge")
    await ingest.accept(DRIVER, item)
    assert item.ack is not None and isinstance(item.ack.exception(), ValueError)
    assert outbox.count == 0 and ingest.tallies.received == {}


async def test_an_event_too_large_to_publish_is_refused_and_nothing_stored(outbox: Outbox) -> None:
    ingest = make(outbox, max_payload_bytes=200)
    item = event("9" * 500)
    await ingest.accept(DRIVER, item)
    assert item.ack is not None and isinstance(item.ack.exception(), EventTooLargeError)
    assert outbox.count == 0
    assert ingest.tallies.received == {"zscan": 1}  # received, then refused (events_too_large counts it)


async def test_a_full_outbox_fails_the_ack_with_its_reason(tmp_path: Path) -> None:
    small = Outbox(tmp_path / "o.sqlite3", max_events=1, max_bytes=100_000, when_full="refuse")
    await small.open()
    try:
        ingest = make(small)
        first, second = event("1"), event("2")
        await ingest.accept(DRIVER, first)
        await ingest.accept(DRIVER, second)
        assert second.ack is not None
        with pytest.raises(Exception, match="outbox full"):
            await asyncio.wait_for(second.ack, 5)
    finally:
        await small.close()


async def test_a_driver_waiting_for_room_in_its_window_is_failed_when_stopping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "INGEST_WINDOW", 2)
    # Never opened: nothing commits, so the window stays full.
    stalled = Outbox(tmp_path / "o.sqlite3", max_events=100, max_bytes=100_000, when_full="refuse")
    ingest = make(stalled)
    await ingest.accept(DRIVER, event("1"))
    await ingest.accept(DRIVER, event("2"))
    third = event("3")
    waiting = asyncio.create_task(ingest.accept(DRIVER, third))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # held until one of the two commits
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert third.ack is not None
    with pytest.raises(RuntimeError, match="daemon stopping"):
        third.ack.result()
    assert stalled.count == 2
