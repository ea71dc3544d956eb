"""Loading a group of plugin entry points (families, simulators) where one broken plugin only disables
itself: its reason is kept for ``passerelle doctor`` and the demo instead of stopping the command."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PluginLoadError:
    name: str  # the entry point's name
    reason: str


@functools.cache
def _load_group(group: str, kind: str) -> tuple[tuple[Any, ...], tuple[PluginLoadError, ...]]:
    loaded: list[Any] = []
    failed: list[PluginLoadError] = []
    for entry in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            loaded.append(entry.load())
        except Exception as exc:  # a broken plugin must not take the daemon or the command line down
            log.warning("%s %s unavailable: %s", kind, entry.name, exc)
            failed.append(PluginLoadError(entry.name, f"{type(exc).__name__}: {exc}"))
    return tuple(loaded), tuple(failed)


def load_group(group: str, kind: str) -> tuple[list[Any], list[PluginLoadError]]:
    """The objects of ``group``'s entry points in entry-name order (loaded once per process), and the
    entries that failed to load; ``kind`` names them in the warning."""
    loaded, failed = _load_group(group, kind)
    return list(loaded), list(failed)
