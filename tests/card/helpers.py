"""Predicates over driver items."""

from __future__ import annotations

from collections.abc import Callable

from passerelle.daemon.driver import DeviceChange, DeviceState, DriverEvent, DriverItem
from passerelle.drivers.card.events import CARD_DATA_SCHEMA, CardData, CardEvent


def card_event(kind: str, slot: int | None = None, **fields: object) -> Callable[[DriverItem], bool]:
    def match(item: DriverItem) -> bool:
        if not isinstance(item, DriverEvent) or not isinstance(item.data, CardEvent):
            return False
        data = item.data
        if data.event != kind or (slot is not None and data.slot != slot):
            return False
        return all(getattr(data, key) == value for key, value in fields.items())

    return match


def card_data(slot: int | None = None) -> Callable[[DriverItem], bool]:
    def match(item: DriverItem) -> bool:
        return (
            isinstance(item, DriverEvent)
            and item.schema == CARD_DATA_SCHEMA
            and isinstance(item.data, CardData)
            and (slot is None or item.data.slot == slot)
        )

    return match


def device_change(state: DeviceState) -> Callable[[DriverItem], bool]:
    def match(item: DriverItem) -> bool:
        return isinstance(item, DeviceChange) and item.device.state is state

    return match


def data_of(item: DriverItem) -> CardEvent:
    assert isinstance(item, DriverEvent) and isinstance(item.data, CardEvent)
    return item.data


def read_of(item: DriverItem) -> CardData:
    assert isinstance(item, DriverEvent) and isinstance(item.data, CardData)
    return item.data
