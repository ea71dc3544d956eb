"""Loading a group of plugin entry points (families, simulators) where one broken plugin only disables
itself: its reason is kept for ``passerelle doctor`` and the demo instead of stopping the command."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

# Looks at a loaded plugin and its entry point's name; says why the core refuses it (empty: accepted).
PluginCheck = Callable[[Any, str], list[str]]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PluginLoadError:
    name: str  # the entry point's name
    reason: str


@functools.cache
def _load_group(
    group: str, kind: str, check: PluginCheck | None
) -> tuple[tuple[Any, ...], tuple[PluginLoadError, ...]]:
    loaded: list[Any] = []
    failed: list[PluginLoadError] = []
    for entry in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            plugin = entry.load()
            problems = check(plugin, entry.name) if check is not None else []
        except Exception as exc:  # a broken plugin must not take the daemon or the command line down
            log.warning("%s %s unavailable: %s", kind, entry.name, exc)
            failed.append(PluginLoadError(entry.name, f"{type(exc).__name__}: {exc}"))
            continue
        if problems:
            log.warning("%s %s refused: %s", kind, entry.name, "; ".join(problems))
            failed.append(PluginLoadError(entry.name, "; ".join(problems)))
            continue
        loaded.append(plugin)
    return tuple(loaded), tuple(failed)


def load_group(
    group: str, kind: str, check: PluginCheck | None = None
) -> tuple[list[Any], list[PluginLoadError]]:
    """The objects of ``group``'s entry points in entry-name order (loaded once per process), and the
    entries that failed to load or that ``check`` refused; ``kind`` names them in the warning."""
    loaded, failed = _load_group(group, kind, check)
    return list(loaded), list(failed)


def forget_loaded_plugins() -> None:
    """Load every group afresh on next use (tests that install or remove an entry point)."""
    _load_group.cache_clear()
