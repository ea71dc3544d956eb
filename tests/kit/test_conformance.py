"""Every installed family, the kit's fixture included, keeps the family contract end to end: its
declarations are valid, its real drivers run under the real daemon's supervisor, show in the inventory,
and the events its simulator makes them publish are valid against their generated JSON Schema."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from passerelle.daemon.broker import PrivateBroker
from passerelle.daemon.family import Family, FamilySection, family_problems, load_families
from passerelle.daemon.schema import asyncapi, event_schemas
from passerelle.testing.support import MqttCollector, base_config, collect, inprocess_daemon
from tests.contract import assert_valid
from tests.kit.scenarios import SCENARIOS

BASE = "passerelle/test"
FIXTURE = "thermometer"  # the kit's own family: not in the committed docs


def test_every_installed_family_has_a_scenario() -> None:
    families, errors = load_families()
    assert errors == []
    assert FIXTURE in families
    assert set(families) == set(SCENARIOS), "add the family's scenario to tests/kit/scenarios.py"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_declarations(name: str) -> None:
    families, _ = load_families()
    family: Family = families[name]
    assert family_problems(family, name) == []
    assert issubclass(family.section_model, FamilySection)
    assert family.section_model().enabled, "an empty section is valid and enabled"
    for hook in ("create_drivers", "add_cli_commands", "doctor"):
        assert callable(getattr(family, hook)), hook
    assert family.events, "a family publishes at least one kind of event"
    schemas = event_schemas(families)
    channels = asyncapi(families)["channels"]
    for event in family.events:
        jsonschema.Draft202012Validator.check_schema(schemas[event.schema])
        assert channels[f"{name}_{event.leaf}"]["address"] == f"passerelle/{{station}}/{event.leaf}"
        assert event.description


def _events_of(mqtt: MqttCollector, family: Family) -> list[dict[str, Any]]:
    schemas = {event.schema for event in family.events}
    return [e for e in mqtt.events() if e["schema"] in schemas]


def _listed(mqtt: MqttCollector, name: str) -> list[dict[str, Any]]:
    retained = mqtt.on(f"{BASE}/bridge/devices")
    devices: list[dict[str, Any]] = retained[-1].json()["devices"] if retained else []
    return [d for d in devices if d["family"] == name]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_simulator_drives_the_real_driver_under_the_daemon(
    name: str,
    broker: PrivateBroker,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    families, _ = load_families()
    family = families[name]
    async with SCENARIOS[name](tmp_path, request) as scenario:
        config = base_config(broker.port, tmp_path / "state")
        config[name] = scenario.section
        async with (
            collect(broker.host, broker.port, f"{BASE}/#") as mqtt,
            inprocess_daemon(config, families) as daemon,
        ):
            await mqtt.wait_for(lambda _: bool(_listed(mqtt, name)), 15, f"{name} devices in bridge/devices")
            await mqtt.wait_for(
                lambda _: all(d["state"] == "online" for d in _listed(mqtt, name)), 15, "devices online"
            )
            await scenario.produce()
            await mqtt.wait_for(lambda _: bool(_events_of(mqtt, family)), 30, f"a {name} event")
            drivers = {key: s for key, s in daemon.supervisor.status.items() if key.startswith(f"{name}/")}
            assert drivers and all(s.state == "running" and s.restarts == 0 for s in drivers.values()), (
                drivers
            )
        assert all(s.state == "stopped" for s in drivers.values()), drivers

    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "did not stop" in r.message]
    schemas = event_schemas(families)
    leaves = {event.leaf for event in family.events}
    for event in _events_of(mqtt, family):
        jsonschema.validate(event, schemas[event["schema"]])
    on_leaves = [m for m in mqtt.messages if m.topic.removeprefix(f"{BASE}/") in leaves]
    assert on_leaves, f"no event on the declared topics {sorted(leaves)}"
    assert not any(m.retain for m in on_leaves), "events are never retained on their channel"
    if name != FIXTURE:  # the committed contract describes every message, bridge topics too
        for message in mqtt.messages:
            if message.payload:
                assert_valid(message.topic, message.payload)
    for message in on_leaves:
        assert json.loads(message.payload)["device"]["family"] == name
