"""Run one family's real drivers under the real daemon until its simulator's event arrives, and check
what arrived against the family's declarations: the conformance test's core, shared with the
scaffold's test (tests/kit/test_scaffold_family.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from passerelle.daemon.broker import PrivateBroker
from passerelle.daemon.family import Family
from passerelle.daemon.schema import event_schemas
from passerelle.testing.support import MqttCollector, Received, base_config, collect, inprocess_daemon
from tests.kit.scenarios import Scenario

BASE = "passerelle/test"


def events_of(mqtt: MqttCollector, family: Family) -> list[dict[str, Any]]:
    schemas = {event.schema for event in family.events}
    return [e for e in mqtt.events() if e["schema"] in schemas]


def listed(mqtt: MqttCollector, name: str) -> list[dict[str, Any]]:
    retained = mqtt.on(f"{BASE}/bridge/devices")
    devices: list[dict[str, Any]] = retained[-1].json()["devices"] if retained else []
    return [d for d in devices if d["family"] == name]


async def run_scenario(
    name: str, families: dict[str, Family], scenario: Scenario, broker: PrivateBroker, workdir: Path
) -> MqttCollector:
    """The daemon with ``name``'s section only: its devices listed and online, the simulator's event
    received, the drivers running without restart, then stopped. What was published under BASE."""
    family = families[name]
    config = base_config(broker.port, workdir / "state")
    config[name] = scenario.section
    async with (
        collect(broker.host, broker.port, f"{BASE}/#") as mqtt,
        inprocess_daemon(config, families) as daemon,
    ):
        await mqtt.wait_for(lambda _: bool(listed(mqtt, name)), 15, f"{name} devices in bridge/devices")
        await mqtt.wait_for(lambda _: all(d["state"] == "online" for d in listed(mqtt, name)), 15, "online")
        await scenario.produce()
        await mqtt.wait_for(lambda _: bool(events_of(mqtt, family)), 30, f"a {name} event")
        drivers = {key: s for key, s in daemon.supervisor.status.items() if key.startswith(f"{name}/")}
        assert drivers and all(s.state == "running" and s.restarts == 0 for s in drivers.values()), drivers
    assert all(s.state == "stopped" for s in drivers.values()), drivers
    return mqtt


def check_events(mqtt: MqttCollector, families: dict[str, Family], name: str) -> list[Received]:
    """The family's events are valid against their generated JSON Schema and arrived, unretained, on
    the declared topic leaves, from a device of the family. The messages on those leaves."""
    family = families[name]
    schemas = event_schemas(families)
    for event in events_of(mqtt, family):
        jsonschema.validate(event, schemas[event["schema"]])
    leaves = {event.leaf for event in family.events}
    on_leaves = [m for m in mqtt.messages if m.topic.removeprefix(f"{BASE}/") in leaves]
    assert on_leaves, f"no event on the declared topics {sorted(leaves)}"
    assert not any(m.retain for m in on_leaves), "events are never retained on their channel"
    for message in on_leaves:
        assert json.loads(message.payload)["device"]["family"] == name
    return on_leaves
