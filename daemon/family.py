"""Device families as plugins.

Each family package (``drivers.<family>``) exposes a ``FAMILY`` object and registers it under the
``passerelle.families`` entry-point group in pyproject.toml. The core loads them by entry point only,
so it never imports a device library itself, and a family that fails to import (a missing system
library) disables that family with the reason instead of stopping the daemon.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from passerelle.daemon.driver import Driver, DriverContext
from passerelle.daemon.entry_points import PluginLoadError, load_group

ENTRY_POINT_GROUP = "passerelle.families"


class ConfigModel(BaseModel):
    """Base of every model of a family's configuration, nested ones included: a mistyped or misplaced
    key is reported like in the core sections, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class FamilySection(ConfigModel):
    """Fields every family section has. A family's own section model subclasses this."""

    enabled: bool = True


@dataclass(frozen=True, slots=True)
class CliCommands:
    """Where families hang their commands: ``top`` is ``passerelle <cmd>``. (``passerelle simulate``
    belongs to the simulators: daemon/simulator_hooks.py.)"""

    top: argparse._SubParsersAction[argparse.ArgumentParser]


@dataclass(frozen=True, slots=True)
class DoctorCheck:
    """One line of ``passerelle doctor``: what was checked, whether it is fine, and the fix."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None  # a command or action that fixes it, shown when not ok


@dataclass(frozen=True, slots=True)
class EventDeclaration:
    """One kind of event a family publishes, declared once: everything else derives from it (the
    family's topic leaves, docs/schema/<schema>.json, the AsyncAPI channel and message, the row of the
    topic table in docs/mqtt.md). Events are never retained on their channel; a driver that also keeps
    one as the device's current state says so per event (``DriverEvent.retained_state``)."""

    schema: str  # versioned id "<name>/<major>", e.g. "passerelle.scan/1"; a breaking change bumps major
    data: type[BaseModel]  # model of the envelope's ``data``
    leaf: str  # topic under the base topic, e.g. "scan"; several events may share one
    description: str  # one line for the topic table (markdown allowed)


class Family(Protocol):
    """What the core needs from a device family. Subclass :class:`FamilyBase`, which fills in the
    optional parts, rather than implementing this from scratch."""

    @property
    def name(self) -> str:
        """Config section, entry point name and ``device.family`` value, e.g. "scanner"."""
        ...

    @property
    def section_model(self) -> type[FamilySection]:
        """Pydantic model of the family's configuration section (devices list and options)."""
        ...

    @property
    def events(self) -> Sequence[EventDeclaration]:
        """Every kind of event the family's drivers publish."""
        ...

    def create_drivers(self, section: FamilySection, context: DriverContext) -> Sequence[Driver]:
        """One driver per device source described by the (already validated) section."""
        ...

    def add_cli_commands(self, commands: CliCommands) -> None:
        """Register family commands (``passerelle decode``, ``passerelle cards``…). Each parser
        sets ``handler=callable(args) -> int`` (the exit code) with ``set_defaults``."""
        ...

    def doctor(self, section: FamilySection | None) -> Sequence[DoctorCheck]:
        """Environment checks for this family (system packages, device node permissions…)."""
        ...


class FamilyBase:
    """A family with the optional parts filled in: subclass it and declare ``name``, ``section_model``,
    ``events`` and ``create_drivers``; override the rest only when the family has something to say.

    Device libraries are imported inside ``create_drivers`` (and the other hooks), not at the top of
    the family's ``__init__``: loading the family must work on a machine without them, so that
    ``doctor`` can say what is missing.
    """

    name: str
    section_model: type[FamilySection] = FamilySection
    events: Sequence[EventDeclaration] = ()

    def create_drivers(self, section: FamilySection, context: DriverContext) -> Sequence[Driver]:
        raise NotImplementedError(f"family {self.name} declares no drivers")

    def add_cli_commands(self, commands: CliCommands) -> None:
        """No commands of its own."""
        del commands

    def doctor(self, section: FamilySection | None) -> Sequence[DoctorCheck]:
        """Nothing to check beyond the core's own checks."""
        del section
        return ()


def event_models(family: Family) -> dict[str, type[BaseModel]]:
    """Schema id -> model of its ``data``."""
    return {event.schema: event.data for event in family.events}


def event_leaf(family: Family, schema: str) -> str:
    """The topic leaf of ``schema``; a schema the family did not declare goes to the family's name."""
    return next((event.leaf for event in family.events if event.schema == schema), family.name)


FamilyLoadError = PluginLoadError  # a family whose entry point failed to load or was refused, and why

FAMILY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # a TOML key, a Python name, a metric label value
SCHEMA_ID = re.compile(r"^[a-z][a-z0-9.-]*/[1-9][0-9]*$")
TOPIC_LEAF = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def reserved_names() -> frozenset[str]:
    """Names a family may not take: the core's configuration sections and settings (a family section
    ``[mqtt]`` would replace the broker settings) and the core's first topic levels (``bridge``)."""
    from passerelle.daemon.config import CoreSettings  # the settings model imports this module
    from passerelle.daemon.topics import RESERVED_LEVELS

    return frozenset(CoreSettings.model_fields) | RESERVED_LEVELS


def family_problems(family: Family, entry_point: str | None = None) -> list[str]:
    """Why the core refuses ``family`` (empty when it is acceptable): its name, and its declarations."""
    name = family.name
    problems: list[str] = []
    if not isinstance(name, str) or not FAMILY_NAME.match(name):
        return [f"family name {name!r} is not a lower-case identifier ({FAMILY_NAME.pattern})"]
    if name in reserved_names():
        problems.append(
            f"family name {name!r} is reserved by the core ({', '.join(sorted(reserved_names()))})"
        )
    if entry_point is not None and entry_point != name:
        problems.append(f"entry point {entry_point!r} loads family {name!r}: they must be the same name")
    seen: set[str] = set()
    for event in family.events:
        if not SCHEMA_ID.match(event.schema):
            problems.append(f"event schema {event.schema!r} is not <name>/<major> ({SCHEMA_ID.pattern})")
        if event.schema in seen:
            problems.append(f"event schema {event.schema!r} is declared twice")
        seen.add(event.schema)
        if not TOPIC_LEAF.match(event.leaf) or event.leaf in reserved_names():
            problems.append(f"event {event.schema}: topic leaf {event.leaf!r} is not a free topic level")
    return problems


def load_families() -> tuple[dict[str, Family], list[FamilyLoadError]]:
    """The installed families (loaded once per process) and those that failed to load or were refused
    (reserved or malformed names, bad declarations: :func:`family_problems`)."""
    loaded, errors = load_group(ENTRY_POINT_GROUP, "device family", check=family_problems)
    return {family.name: family for family in loaded}, errors
