"""Every installed family, the kit's fixture included, keeps the family contract end to end: its
declarations are valid, its real drivers run under the real daemon's supervisor, show in the inventory,
and the events its simulator makes them publish are valid against their generated JSON Schema."""

from __future__ import annotations

import logging
from pathlib import Path

import jsonschema
import pytest

from passerelle.daemon.broker import PrivateBroker
from passerelle.daemon.family import Family, FamilySection, family_problems, load_families
from passerelle.daemon.schema import asyncapi, event_schemas
from tests.contract import assert_valid
from tests.kit.drive import check_events, run_scenario
from tests.kit.scenarios import SCENARIOS

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


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_simulator_drives_the_real_driver_under_the_daemon(
    name: str,
    broker: PrivateBroker,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    families, _ = load_families()
    async with SCENARIOS[name](tmp_path, request) as scenario:
        mqtt = await run_scenario(name, families, scenario, broker, tmp_path)

    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "did not stop" in r.message]
    check_events(mqtt, families, name)
    if name != FIXTURE:  # the committed contract describes every message, bridge topics too
        for message in mqtt.messages:
            if message.payload:
                assert_valid(message.topic, message.payload)
