"""The family kit's rules: reserved or unsafe family names are refused at load (the other families
load), declarations are checked, and FamilyBase fills in the optional parts."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from passerelle.daemon.config import ConfigError, check_config, load_config
from passerelle.daemon.entry_points import forget_loaded_plugins
from passerelle.daemon.family import (
    EventDeclaration,
    FamilyBase,
    family_problems,
    load_families,
    reserved_names,
)


class Tick(BaseModel):
    n: int


def make(name: str, *events: EventDeclaration) -> FamilyBase:
    family = FamilyBase()
    family.name = name
    family.events = events or (EventDeclaration("test.tick/1", Tick, "tick", "a tick"),)
    return family


MQTT = make("mqtt")
BAD = make("Bad Name")
MISNAMED = make("other")
GOOD = make("goodone")


@pytest.fixture
def extra_entry_points(tmp_path: Path) -> Iterator[None]:
    info = tmp_path / "kit_unit_test-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kit-unit-test\nVersion: 0\n")
    module = __name__
    (info / "entry_points.txt").write_text(
        "[passerelle.families]\n"
        f"mqtt = {module}:MQTT\nbadname = {module}:BAD\n"
        f"misnamed = {module}:MISNAMED\ngoodone = {module}:GOOD\n"
        "broken = tests.unit.daemon.no_such_module:FAMILY\n"
    )
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    forget_loaded_plugins()
    yield
    sys.path.remove(str(tmp_path))
    importlib.invalidate_caches()
    forget_loaded_plugins()


def test_reserved_and_unsafe_names_are_load_errors_and_the_rest_load(extra_entry_points: None) -> None:
    families, errors = load_families()
    reasons = {error.name: error.reason for error in errors}
    assert set(reasons) == {"mqtt", "badname", "misnamed", "broken"}
    assert "reserved by the core" in reasons["mqtt"]
    assert "not a lower-case identifier" in reasons["badname"]
    assert "must be the same name" in reasons["misnamed"]
    assert {"goodone", "scanner", "card", "cpap", "synthetic"} <= set(families)


def test_reserved_names_come_from_the_settings_model_and_the_topics() -> None:
    assert {"mqtt", "outbox", "logging", "web", "metrics", "station", "state_directory", "bridge"} <= (
        reserved_names()
    )


def test_declaration_problems() -> None:
    tick = EventDeclaration("test.tick/1", Tick, "tick", "a tick")
    assert family_problems(make("ok", tick)) == []
    assert family_problems(make("ok", tick, tick)) == ["event schema 'test.tick/1' is declared twice"]
    assert family_problems(make("ok", EventDeclaration("tick", Tick, "tick", "")))[0].startswith(
        "event schema 'tick' is not <name>/<major>"
    )
    assert (
        "not a free topic level"
        in family_problems(make("ok", EventDeclaration("a.b/1", Tick, "bridge", "")))[0]
    )


def test_family_base_defaults() -> None:
    family = make("plain")
    assert family.doctor(None) == ()
    with pytest.raises(NotImplementedError):
        family.create_drivers(family.section_model(), None)  # type: ignore[arg-type]


def test_a_section_without_a_family_names_the_entry_point_group(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('station = "s1"\n[thermometer]\ndevices = []\n')
    families, _ = load_families()
    with pytest.raises(ConfigError) as raised:
        load_config(config, families)
    assert raised.value.problems == [
        'thermometer: no device family "thermometer" is installed (entry point group passerelle.families); '
        f"installed: {', '.join(sorted(families))}"
    ]


def test_the_section_of_a_family_that_cannot_load_disables_it_without_stopping(
    extra_entry_points: None, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('station = "s1"\n[broken]\ndevices = []\n')
    families, _ = load_families()
    loaded = load_config(config, families)  # run goes on; the family shows as unavailable
    assert "broken" not in loaded.sections
    [line] = check_config(config, families)
    assert line.startswith(
        'broken: device family "broken" is installed but cannot be loaded (ModuleNotFoundError'
    )
