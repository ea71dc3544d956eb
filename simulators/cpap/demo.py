"""The CPAP part of ``passerelle demo``: an SD card appears in a watched folder, an export file later."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from passerelle.simulators.cpap.card import write_card
from passerelle.simulators.cpap.profile import BUILTIN


@contextlib.asynccontextmanager
async def demo(workdir: Path) -> AsyncIterator[dict[str, Any] | None]:
    """Yields a section watching ``workdir/media``; then "inserts" a card: writes it elsewhere
    and moves it in (like a mount appearing), and later drops an export file."""
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
