"""The card part of ``passerelle demo``: a private pcscd with vpcd, cards coming and going.

Slot 1 holds a professional card for most of the time; slot 0 sees patients' cards inserted and
removed, as at a counter. Yields None when pcscd, vpcd or unshare is missing (``passerelle doctor``
says what to install).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from passerelle.simulators.card.isolated_pcscd import IsolatedPcscd, PcscdUnavailableError, missing_tools
from passerelle.simulators.card.virtual_cards import make_card
from passerelle.simulators.card.vpcd_link import InsertedCard

log = logging.getLogger(__name__)

PATIENT_ROUND = ("vitale2", "vitale2", "vitale1", "unknown")


@contextlib.asynccontextmanager
async def demo(workdir: Path) -> AsyncIterator[dict[str, Any] | None]:
    missing = missing_tools()
    if missing:
        log.warning("card demo disabled: missing %s", ", ".join(missing))
        yield None
        return
    pcscd = IsolatedPcscd(workdir / "pcscd")
    try:
        await asyncio.to_thread(pcscd.start)
    except PcscdUnavailableError as exc:
        log.warning("card demo disabled: %s", exc)
        yield None
        return
    task = asyncio.create_task(_schedule(pcscd.port), name="card-demo")
    try:
        yield {
            "devices": [{"pcsc_socket": str(pcscd.socket_path)}],
            "read_public_data": {"card_types": ["vitale2"]},
            "nir_mode": "redact",
        }
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.to_thread(pcscd.stop)


async def _schedule(port: int, dwell: float = 4.0, gap: float = 2.0) -> None:
    professional: InsertedCard | None = None
    patient: InsertedCard | None = None
    turn = 0
    try:
        while True:
            if professional is None:
                professional = await asyncio.to_thread(InsertedCard(make_card("cps3"), port + 1).insert)
            kind = PATIENT_ROUND[turn % len(PATIENT_ROUND)]
            patient = await asyncio.to_thread(InsertedCard(make_card(kind, 1 + turn % 3), port).insert)
            await asyncio.sleep(dwell)
            await asyncio.to_thread(patient.remove)
            patient = None
            turn += 1
            if turn % 4 == 0:  # the professional takes the card out now and then
                await asyncio.to_thread(professional.remove)
                professional = None
            await asyncio.sleep(gap)
    finally:
        for card in (patient, professional):
            if card is not None:
                card.remove()
