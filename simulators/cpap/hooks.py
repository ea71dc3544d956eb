"""The CPAP simulator's hooks (entry point ``passerelle.simulators: cpap``): ``passerelle simulate
cpap`` and the CPAP part of ``passerelle demo``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

from passerelle.daemon.family import DoctorCheck
from passerelle.daemon.simulator_hooks import SimulateCommands


class CpapSimulator:
    family = "cpap"

    def add_simulate_commands(self, simulate: SimulateCommands) -> None:
        sim = simulate.add_parser("cpap", help="write a ResMed SD-card tree and its CSV export")
        sim.add_argument("out_dir", type=Path, metavar="OUT_DIR")
        sim.add_argument("--profile", default="good", help="built-in profile name or JSON file")
        sim.add_argument("--days", type=int, help="override the profile's number of days")
        sim.add_argument("--no-csv", action="store_true", help="do not write the CSV export")
        sim.set_defaults(handler=cmd_simulate)

    def demo(self, workdir: Path) -> AbstractAsyncContextManager[dict[str, Any] | None]:
        from passerelle.simulators.cpap.demo import demo

        return demo(workdir)

    def doctor(self) -> Sequence[DoctorCheck]:
        return []  # the simulator writes files with the family's own dependencies


def cmd_simulate(args: argparse.Namespace) -> int:
    # Imported here: every `passerelle` command loads this module, and the card writer pulls in numpy.
    from passerelle.simulators.cpap.card import write_card
    from passerelle.simulators.cpap.profile import load_profile

    try:
        profile = load_profile(args.profile)
    except (OSError, ValueError) as exc:
        print(f"simulate cpap: bad profile {args.profile!r}: {exc}", file=sys.stderr)
        return 2
    if args.days:
        profile = replace(profile, days=args.days)
    card = write_card(profile, args.out_dir, with_csv=not args.no_csv)
    used = sum(1 for n in card.nights if n.usage_minutes)
    print(
        f"wrote {card.root} ({profile.model}, serial {profile.serial}, {len(card.nights)} days, {used} used)"
    )
    if card.csv_path:
        print(f"wrote {card.csv_path}")
    return 0


SIMULATOR = CpapSimulator()
