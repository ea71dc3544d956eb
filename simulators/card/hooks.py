"""The card simulator's hooks (entry point ``passerelle.simulators: card``): ``passerelle simulate
card``, the card part of ``passerelle demo``, and the doctor check of what only the demo needs."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from passerelle.daemon.family import DoctorCheck
from passerelle.daemon.simulator_hooks import SimulateCommands
from passerelle.drivers.card.system_tools import find_tool

# What the isolated pcscd of the demo needs beyond pcscd and vpcd (the card family checks those two).
NAMESPACE_TOOLS = ("unshare", "mount")


class CardSimulator:
    family = "card"

    def add_simulate_commands(self, simulate: SimulateCommands) -> None:
        from passerelle.simulators.card.cli import add_simulate_command

        add_simulate_command(simulate)

    def demo(self, workdir: Path) -> AbstractAsyncContextManager[dict[str, Any] | None]:
        from passerelle.simulators.card.demo import demo

        return demo(workdir)

    def doctor(self) -> Sequence[DoctorCheck]:
        missing = [tool for tool in NAMESPACE_TOOLS if find_tool(tool) is None]
        return [
            DoctorCheck(
                "unshare and mount (private pcscd of the card demo)",
                not missing,
                f"missing: {', '.join(missing)}" if missing else "installed",
                "apt-get install util-linux mount",
            )
        ]


SIMULATOR = CardSimulator()
