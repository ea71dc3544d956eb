"""Shared by the quarantine tests: stored rows, a broker with limits, requests, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from passerelle.daemon.broker import PrivateBroker, free_port
from passerelle.daemon.outbox import Outbox
from passerelle.testing.support import MqttCollector, base_config

BASE = "passerelle/test"
SMALL = 40  # events stored on either side of the one the broker will not take
BIG = 8000  # bytes: twice Mosquitto's limit in these tests


def payload(n: int, filler: int = 0) -> tuple[str, bytes]:
    event_id = str(uuid.uuid4())
    body = {"event_id": event_id, "schema": "test.stored/1", "n": n, "filler": "x" * filler}
    return event_id, json.dumps(body).encode()


async def store(state: Path, rows: Sequence[tuple[str, bytes]]) -> list[str]:
    """Rows in the outbox before the daemon starts, as a previous run leaves them. Returns their ids."""
    outbox = Outbox(state / "outbox.sqlite3", max_events=1_000_000, max_bytes=1 << 30, when_full="refuse")
    await outbox.open()
    ids = []
    for topic, body in rows:
        event_id = json.loads(body)["event_id"]
        await outbox.append(event_id, topic, body)
        ids.append(event_id)
    await outbox.close()
    return ids


def small_and_one(
    topic: str, big_topic: str | None = None, big: int = BIG
) -> tuple[list[tuple[str, bytes]], str]:
    """SMALL events, one the broker will not take, SMALL more. Returns the rows and the odd one's id."""
    rows = [(topic, payload(n)[1]) for n in range(SMALL)]
    odd_id, odd = payload(SMALL, big)
    rows.append((big_topic or topic, odd))
    rows += [(topic, payload(n)[1]) for n in range(SMALL + 1, 2 * SMALL + 1)]
    return rows, odd_id


def config(broker: PrivateBroker, state: Path, metrics_port: int, **mqtt: Any) -> dict[str, Any]:
    return base_config(
        broker.port,
        state,
        mqtt={
            "host": broker.host,
            "port": broker.port,
            "reconnect_min_seconds": 0.1,
            "reconnect_max_seconds": 1.0,
            **mqtt,
        },
        metrics={"enabled": True, "address": "127.0.0.1", "port": metrics_port},
    )


@contextmanager
def acl_broker(denied: str) -> Iterator[tuple[PrivateBroker, Path]]:
    """A broker that lets anonymous clients use the base topic, except ``denied``."""
    broker = PrivateBroker()
    acl = broker.workdir / "acl"
    acl.write_text(f"topic readwrite {BASE}/#\ntopic deny {denied}\n")
    broker.extra_config.append(f"acl_file {acl}")
    with broker:
        yield broker, acl


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


async def metrics(port: int) -> dict[str, float]:
    return await asyncio.to_thread(scrape, port)


async def request(collector: MqttCollector, client: Any, body: dict[str, Any]) -> dict[str, Any]:
    """One ``outbox`` bridge request and its answer.

    Sent again while unanswered: a request published while the daemon reconnects (after setting an
    event aside) reaches nobody. The first answer is the one of the first request processed."""
    transaction = uuid.uuid4().hex
    found: list[dict[str, Any]] = []

    def answered(_: object) -> bool:
        for m in collector.on(f"{BASE}/bridge/response/outbox"):
            answer = m.json()
            if answer.get("transaction") == transaction:
                found.append(answer)
                return True
        return False

    for _ in range(5):
        await client.publish(
            f"{BASE}/bridge/request/outbox", json.dumps({**body, "transaction": transaction})
        )
        with contextlib.suppress(AssertionError):
            await collector.wait_for(answered, 3, "the outbox answer")
            return found[0]
    raise AssertionError(f"no answer to {body}")


def delivered(collector: MqttCollector, ids: Sequence[str]) -> bool:
    seen = {e["event_id"] for e in collector.events("test.stored/1")}
    return all(i in seen for i in ids)


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def seconds(self) -> float:
        return round(time.monotonic() - self.started, 3)


__all__ = ["free_port"]
