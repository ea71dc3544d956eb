"""The device inventory behind ``bridge/devices`` and ``<device_id>/availability``."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

from passerelle.daemon.config import TOPIC_LEVEL
from passerelle.daemon.driver import DeviceInfo, DeviceState
from passerelle.daemon.events import Availability
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.topics import RESERVED_LEVELS, Topics

log = logging.getLogger(__name__)


class Inventory:
    def __init__(self, topics: Topics, retained: RetainedStore) -> None:
        self.topics = topics
        self.retained = retained
        self.devices: dict[str, DeviceInfo] = {}
        self.disabled: list[dict[str, str]] = []  # drivers or families that could not start, with why

    @staticmethod
    def valid_id(device_id: str) -> bool:
        return bool(TOPIC_LEVEL.match(device_id)) and device_id not in RESERVED_LEVELS

    def update(self, device: DeviceInfo, removed: bool = False) -> bool:
        """Apply a change; returns False (and logs) for an id that cannot be a topic level."""
        if not self.valid_id(device.id):
            log.error(
                "%s driver reported a device id that is not a valid topic level; ignored", device.family
            )
            return False
        if removed:
            if self.devices.pop(device.id, None) is not None:
                self.retained.clear(self.topics.availability(device.id))
        else:
            self.devices[device.id] = device
            self.retained.set(self.topics.availability(device.id), _availability(device.state))
        self.publish()
        return True

    def disable(self, family: str, driver: str, reason: str) -> None:
        self.disabled.append({"family": family, "driver": driver, "reason": reason})
        self.publish()

    def snapshot(self) -> dict[str, object]:
        devices = [asdict(d) for d in sorted(self.devices.values(), key=lambda d: d.id)]
        return {"devices": devices, "disabled": list(self.disabled)}

    def publish(self) -> None:
        self.retained.set(self.topics.devices, json.dumps(self.snapshot(), sort_keys=True).encode())

    def all_offline(self) -> None:
        for device_id in self.devices:
            self.retained.set(self.topics.availability(device_id), _availability(DeviceState.OFFLINE))


def _availability(state: DeviceState) -> bytes:
    return Availability(state=state.value).model_dump_json().encode()
