"""The scanner simulators' hooks (entry point ``passerelle.simulators: scanner``): ``passerelle simulate
scanner`` and the scanner part of ``passerelle demo``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from passerelle.daemon.family import DoctorCheck
from passerelle.daemon.simulator_hooks import SimulateCommands


class ScannerSimulator:
    family = "scanner"

    def add_simulate_commands(self, simulate: SimulateCommands) -> None:
        command = simulate.add_parser("scanner", help="serial (pty) and HID (FIFO) scanner simulators")
        command.add_argument("--serial", type=Path, default=None, metavar="LINK", help="symlink to the pty")
        command.add_argument("--hid", type=Path, default=None, metavar="FIFO", help="FIFO of input_event")
        command.add_argument("--layout", choices=["us", "fr"], default="fr")
        command.add_argument("--gs", choices=["ctrl", "alt", "drop"], default="ctrl", help="how GS is typed")
        command.add_argument("--scenario", default="psad", help="scenario name or TOML file")
        command.add_argument("--interval", type=float, default=2.0, help="seconds between scans")
        command.add_argument("--loops", type=int, default=0, help="0 = forever")
        command.set_defaults(handler=cmd_simulate)

    @contextlib.asynccontextmanager
    async def demo(self, workdir: Path) -> AsyncIterator[dict[str, Any] | None]:
        from passerelle.simulators.scanner.runner import running_simulators

        os.makedirs(workdir, exist_ok=True)  # instant, local: not worth a thread
        serial_link, hid_fifo = workdir / "scanner-serial", workdir / "scanner-hid.fifo"
        async with running_simulators(serial_link=serial_link, hid_path=hid_fifo, layout="fr", interval=2.0):
            yield {
                "devices": [
                    {"id": "counter-serial", "driver": "serial", "path": str(serial_link)},
                    {"id": "counter-hid", "driver": "hid", "path": str(hid_fifo), "layout": "fr"},
                ]
            }

    def doctor(self) -> Sequence[DoctorCheck]:
        return []  # a pty and a FIFO: nothing to install


def cmd_simulate(args: argparse.Namespace) -> int:
    from passerelle.simulators.scanner.runner import run_simulators

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run_simulators(
                serial_link=args.serial, hid_path=args.hid, layout=args.layout, gs_mode=args.gs,
                scenario=args.scenario, interval=args.interval, loops=args.loops,
            )
        )  # fmt: skip
    return 0


SIMULATOR = ScannerSimulator()
