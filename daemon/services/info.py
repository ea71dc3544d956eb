"""``bridge/info``: what this station is (version, families, drivers, commands, configuration summary),
published retained once the drivers are built and answered to the ``info`` request."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from passerelle.daemon import __version__
from passerelle.daemon.config import CoreSettings
from passerelle.daemon.driver import Driver
from passerelle.daemon.events import LOSS_SCHEMA
from passerelle.daemon.family import Family, FamilyLoadError
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.topics import Topics


@dataclass(kw_only=True, slots=True)
class BridgeInfo:
    settings: CoreSettings
    topics: Topics
    retained: RetainedStore
    families: Mapping[str, Family]
    family_errors: Sequence[FamilyLoadError]
    drivers: Sequence[Driver]  # the supervisor's list: read at each report
    family_of: Mapping[str, Family]  # by driver name
    commands: Callable[[], list[str]]

    def schemas(self) -> list[str]:
        schemas = {LOSS_SCHEMA}
        for family in self.families.values():
            schemas.update(event.schema for event in family.events)
        return sorted(schemas)

    def report(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "station": self.settings.station,
            "base_topic": self.topics.base,
            "schemas": self.schemas(),
            "families": sorted(self.families),
            "unavailable_families": {e.name: e.reason for e in self.family_errors},
            "drivers": [{"name": d.name, "family": self.family_of[d.name].name} for d in self.drivers],
            "commands": self.commands(),
            "config": self.settings.summary(),
        }

    def publish(self) -> None:
        self.retained.set(self.topics.info, json.dumps(self.report(), sort_keys=True).encode())
