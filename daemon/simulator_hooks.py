"""Simulators as plugins of their own, beside the families they simulate.

Dependencies point one way: core ← families ← simulators. A family therefore never imports its
simulator; what needs one (``passerelle simulate <family>``, the family's part of ``passerelle demo``,
doctor checks of the tools only a simulator uses) is registered from the simulator's side, under the
``passerelle.simulators`` entry-point group, one entry per family (named after it). A family whose
simulator is not installed, or fails to import, still works: only these hooks are missing, and the
reason is reported like a family that fails to load.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol, TypeAlias

from passerelle.daemon.entry_points import PluginLoadError, load_group
from passerelle.daemon.family import DoctorCheck

SIMULATOR_ENTRY_POINT_GROUP = "passerelle.simulators"

SimulateCommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # noqa: SLF001 - argparse has no public name for the type add_subparsers() returns
"""The subcommands of ``passerelle simulate``: one per family, named after it."""


class SimulatorHooks(Protocol):
    @property
    def family(self) -> str:
        """Name of the family this simulates (and of its entry point), e.g. "card"."""
        ...

    def add_simulate_commands(self, simulate: SimulateCommands) -> None:
        """Add ``passerelle simulate <family>``; the parser sets ``handler=callable(args) -> int``."""
        ...

    def demo(self, workdir: Path) -> AbstractAsyncContextManager[dict[str, Any] | None]:
        """Start the simulators with realistic traffic; yield the family's config section (as plain
        data) that points the real drivers at them, or None when the simulator cannot run here."""
        ...

    def doctor(self) -> Sequence[DoctorCheck]:
        """Checks of what only the simulator needs (empty when it needs nothing of its own)."""
        ...


SimulatorLoadError = PluginLoadError  # a simulator whose entry point failed to load, and why


def load_simulators() -> tuple[dict[str, SimulatorHooks], list[SimulatorLoadError]]:
    """The installed simulators by family (loaded once per process) and those that failed to load."""
    loaded, errors = load_group(SIMULATOR_ENTRY_POINT_GROUP, "simulator of")
    return {hooks.family: hooks for hooks in loaded}, errors


def simulator_checks(
    simulators: dict[str, SimulatorHooks], errors: Sequence[SimulatorLoadError]
) -> list[DoctorCheck]:
    """The doctor's lines about simulators: those that failed to load, then each one's own checks."""
    checks = [DoctorCheck(f"{e.name} simulator", False, e.reason, "bash scripts/setup.sh") for e in errors]
    for name, hooks in simulators.items():
        try:
            checks.extend(hooks.doctor())
        except Exception as exc:  # one simulator's check must not hide the others
            checks.append(DoctorCheck(f"{name} simulator", False, f"check failed: {exc}"))
    return checks
