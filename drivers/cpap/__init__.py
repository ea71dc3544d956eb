"""CPAP observance family: ResMed SD cards and export files -> French 28-day observance events."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from passerelle.daemon.driver import Driver, DriverContext
from passerelle.daemon.family import CliCommands, DoctorCheck, FamilyBase, FamilySection
from passerelle.drivers.cpap.config import CpapSection
from passerelle.drivers.cpap.events import EVENTS


class CpapFamily(FamilyBase):
    name = "cpap"
    section_model = CpapSection
    events = EVENTS

    def create_drivers(self, section: FamilySection, context: DriverContext) -> Sequence[Driver]:
        from passerelle.drivers.cpap.driver import ObservanceDriver

        assert isinstance(section, CpapSection)
        return [ObservanceDriver(source, section, context) for source in section.devices]

    def add_cli_commands(self, commands: CliCommands) -> None:
        from passerelle.drivers.cpap.cli import add_commands

        add_commands(commands)

    def doctor(self, section: FamilySection | None) -> Sequence[DoctorCheck]:
        checks = []
        try:
            import edfio

            checks.append(DoctorCheck("cpap: edfio", True, f"edfio {edfio.__version__}"))
        except ImportError as exc:  # pragma: no cover - the dependency is locked
            checks.append(DoctorCheck("cpap: edfio", False, str(exc), "uv sync"))
        if isinstance(section, CpapSection):
            for source in section.devices:
                path = source.path
                ok = path.is_dir() and os.access(path, os.R_OK | os.X_OK)
                checks.append(
                    DoctorCheck(
                        f"cpap: {source.id} folder",
                        ok,
                        f"{path} {'readable' if ok else 'missing or unreadable'}",
                        None if ok else f"mkdir -p {path} (and mount SD cards below it)",
                    )
                )
        return checks

    def demo(self, workdir: Path) -> contextlib.AbstractAsyncContextManager[dict[str, Any] | None]:
        return _demo(workdir)


@contextlib.asynccontextmanager
async def _demo(workdir: Path) -> AsyncIterator[dict[str, Any] | None]:
    """Yields a section watching ``workdir/media``; then "inserts" a card: writes it elsewhere
    and moves it in (like a mount appearing), and later drops an export file."""
    from passerelle.simulators.cpap.card import write_card
    from passerelle.simulators.cpap.profile import BUILTIN

    media = workdir / "media"
    exports = workdir / "exports"
    media.mkdir(parents=True, exist_ok=True)
    exports.mkdir(parents=True, exist_ok=True)
    section = {
        "devices": [
            {"id": "counter-sd", "kind": "sdcard", "path": str(media), "settle_seconds": 0.2},
            {"id": "cloud-exports", "kind": "export", "path": str(exports), "settle_seconds": 0.2},
        ],
        "alert_lead_days": 183,
    }

    async def insert() -> None:
        await asyncio.sleep(2.0)
        staging = Path(tempfile.mkdtemp(prefix="cpap-card-", dir=workdir))
        card = await asyncio.to_thread(write_card, BUILTIN["good"], staging / "RESMED")
        os.replace(card.root, media / "RESMED")
        await asyncio.sleep(2.0)
        other = replace(BUILTIN["borderline"], days=120)
        card2 = await asyncio.to_thread(write_card, other, staging / "borderline")
        if card2.csv_path is not None:
            shutil.move(str(card2.csv_path), exports / "airview-export.csv")

    task = asyncio.create_task(insert())
    try:
        yield section
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


FAMILY = CpapFamily()
