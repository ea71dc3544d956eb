"""Device families as plugins.

Each family package (``drivers.<family>``) exposes a ``FAMILY`` object and registers it under the
``passerelle.families`` entry-point group in pyproject.toml. The core loads them by entry point only,
so it never imports a device library itself, and a family that fails to import (a missing system
library) disables that family with the reason instead of stopping the daemon.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
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


class Family(Protocol):
    @property
    def name(self) -> str:
        """Config section and ``device.family`` value, e.g. "scanner"."""
        ...

    @property
    def section_model(self) -> type[FamilySection]:
        """Pydantic model of the family's configuration section (devices list and options)."""
        ...

    @property
    def event_models(self) -> Mapping[str, type[BaseModel]]:
        """Schema id ("passerelle.scan/1") -> model of the event's ``data``, for JSON Schema/AsyncAPI."""
        ...

    @property
    def channels(self) -> Mapping[str, str]:
        """Schema id -> the topic leaf its events are published on, e.g. {"passerelle.scan/1": "scan"}.

        Several schemas may share a leaf (the observance channel); a family may use several leaves
        (card events and the opt-in card data, which consumers can restrict separately)."""
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


FamilyLoadError = PluginLoadError  # a family whose entry point failed to load, and why


def load_families() -> tuple[dict[str, Family], list[FamilyLoadError]]:
    """The installed families (loaded once per process) and those that failed to load."""
    loaded, errors = load_group(ENTRY_POINT_GROUP, "device family")
    return {family.name: family for family in loaded}, errors
