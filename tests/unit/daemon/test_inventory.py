"""The inventory behind bridge/devices and each device's availability topic."""

from __future__ import annotations

import json
import logging

import pytest

from passerelle.daemon.driver import DeviceInfo, DeviceState
from passerelle.daemon.inventory import Inventory
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.topics import Topics

TOPICS = Topics("passerelle/st-1")


def make() -> tuple[Inventory, RetainedStore]:
    retained = RetainedStore()
    return Inventory(TOPICS, retained), retained


def device(device_id: str, state: DeviceState = DeviceState.ONLINE) -> DeviceInfo:
    return DeviceInfo(id=device_id, family="scanner", driver="hid", state=state)


def devices_topic(retained: RetainedStore) -> dict[str, object]:
    payload = retained.get(TOPICS.devices)
    assert payload is not None
    loaded: dict[str, object] = json.loads(payload)
    return loaded


def test_a_device_is_listed_and_gets_its_availability() -> None:
    inventory, retained = make()
    assert inventory.update(device("desk-2"))
    assert inventory.update(device("desk-1", DeviceState.OFFLINE))
    assert retained.get(TOPICS.availability("desk-1")) == b'{"state":"offline"}'
    assert retained.get(TOPICS.availability("desk-2")) == b'{"state":"online"}'
    listed = devices_topic(retained)["devices"]
    assert isinstance(listed, list)
    assert [d["id"] for d in listed] == ["desk-1", "desk-2"]  # sorted, whatever the arrival order


@pytest.mark.parametrize("bad_id", ["bridge", "Desk-1", "desk/1", "desk+1", "-desk", "", "a" * 64])
def test_an_id_that_cannot_be_a_topic_level_is_refused_and_logged(
    bad_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    inventory, retained = make()
    with caplog.at_level(logging.ERROR, logger="passerelle.daemon.inventory"):
        assert not inventory.update(device(bad_id))
    assert inventory.devices == {}
    assert retained.snapshot() == {}
    [record] = caplog.records
    assert not bad_id or bad_id not in record.getMessage()  # a driver's id may carry what it read


def test_a_removed_device_loses_its_availability_topic() -> None:
    inventory, retained = make()
    inventory.update(device("desk-1"))
    retained.take_dirty()
    inventory.update(device("desk-1"), removed=True)
    dirty = retained.take_dirty()
    assert dirty[TOPICS.availability("desk-1")] == b""
    assert devices_topic(retained)["devices"] == []


def test_removing_an_unknown_device_clears_nothing() -> None:
    inventory, retained = make()
    inventory.update(device("desk-1"), removed=True)
    assert TOPICS.availability("desk-1") not in retained.take_dirty()


def test_a_disabled_driver_is_listed_with_its_reason() -> None:
    inventory, retained = make()
    inventory.disable("card", "-", "invalid configuration: readers: field required")
    assert devices_topic(retained)["disabled"] == [
        {"family": "card", "driver": "-", "reason": "invalid configuration: readers: field required"}
    ]


def test_at_shutdown_every_device_goes_offline_and_stays_listed() -> None:
    inventory, retained = make()
    inventory.update(device("desk-1"))
    inventory.update(device("desk-2", DeviceState.DISABLED))
    inventory.all_offline()
    for device_id in ("desk-1", "desk-2"):
        assert retained.get(TOPICS.availability(device_id)) == b'{"state":"offline"}'
    listed = inventory.snapshot()["devices"]
    assert isinstance(listed, list) and len(listed) == 2
