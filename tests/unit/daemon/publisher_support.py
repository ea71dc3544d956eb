"""A publisher over a real outbox (SQLite on a tmp file) and the in-memory broker, started and stopped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

from passerelle.daemon.config import MqttSettings
from passerelle.daemon.outbox import Outbox
from passerelle.daemon.publisher import Answer, Publisher, Request
from passerelle.daemon.quarantine import QuarantineStore
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.topics import Topics
from passerelle.testing.memory_session import MemoryBroker

BASE = "passerelle/unit"
EVENTS_TOPIC = f"{BASE}/synthetic"


async def answer(request: Request) -> Answer:
    return Answer(b"{}", f"{BASE}/bridge/response/{request.command}")


@dataclass
class Station:
    publisher: Publisher
    outbox: Outbox
    quarantine: QuarantineStore
    broker: MemoryBroker

    def events(self) -> list[bytes]:
        """Event payloads the broker acknowledged, in order (repeats included)."""
        return [r.payload for r in self.broker.received if r.topic.startswith(EVENTS_TOPIC)]

    async def submit(self, *payloads: bytes, topic: str = EVENTS_TOPIC) -> None:
        await asyncio.gather(*(self.outbox.append(uuid4(), topic, p) for p in payloads))


@contextlib.asynccontextmanager
async def station(tmp_path: Path, broker: MemoryBroker, **mqtt: Any) -> AsyncIterator[Station]:
    settings = MqttSettings(reconnect_min_seconds=0.01, reconnect_max_seconds=0.05, **mqtt)
    outbox = Outbox(tmp_path / "outbox.db", max_events=10_000, max_bytes=1 << 24, when_full="refuse")
    await outbox.open()
    quarantine = QuarantineStore(tmp_path / "outbox.db", outbox)
    await quarantine.open()
    publisher = Publisher(
        settings,
        client_id="unit",
        topics=Topics(BASE),
        outbox=outbox,
        retained=RetainedStore(),
        router=answer,
        set_aside=quarantine.set_aside,
        sessions=broker.session,
    )
    running = asyncio.create_task(publisher.run())
    try:
        yield Station(publisher, outbox, quarantine, broker)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await quarantine.close()
        await outbox.close()


def payloads(count: int, start: int = 0) -> list[bytes]:
    return [f'{{"seq": {i}}}'.encode() for i in range(start, start + count)]
