"""The Python consumer helper (clients/python) against a real daemon and a real Mosquitto: a
persistent session keeps what was published while the consumer was away, and each event is handed
over once even when the broker delivers it twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
from passerelle_consumer import Event, EventConsumer

from passerelle.daemon.broker import PrivateBroker
from passerelle.simulators.scanner.serial_sim import SerialScannerSimulator
from passerelle.testing.support import base_config, collect, inprocess_daemon


async def take(events: AsyncIterator[Event], count: int, timeout: float = 10.0) -> list[Event]:
    async def gather() -> list[Event]:
        return [await anext(events) for _ in range(count)]

    return await asyncio.wait_for(gather(), timeout)


def scanner_config(broker: PrivateBroker, tmp_path: Path, link: Path) -> dict[str, object]:
    return base_config(
        broker.port,
        tmp_path / "state",
        scanner={"devices": [{"id": "counter", "driver": "serial", "path": str(link)}]},
    )


async def test_events_published_while_the_consumer_was_away_arrive_when_it_comes_back(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    consumer = EventConsumer(broker.host, broker.port, base_topic="passerelle/test", client_id="billing-1")
    with SerialScannerSimulator(tmp_path / "ttyscan") as scanner:
        async with (
            collect(broker.host, broker.port, "passerelle/test/#") as mqtt,
            inprocess_daemon(scanner_config(broker, tmp_path, scanner.link)),
        ):
            await mqtt.wait_for(
                lambda ms: any(m.topic == "passerelle/test/counter/availability" for m in ms),
                what="the scanner online",
            )
            first = consumer.events()
            # The session exists once the consumer has subscribed.
            taking = asyncio.create_task(take(first, 1))
            await asyncio.wait_for(consumer.subscribed.wait(), 10)
            await scanner.scan("AWAY-1")
            [one] = await taking
            await first.aclose()  # the consumer goes away; its session stays at the broker

            for text in ("AWAY-2", "AWAY-3"):
                await scanner.scan(text)
            await mqtt.wait_for(lambda ms: len(mqtt.events("passerelle.scan/1")) == 3, what="3 scans")

            again = EventConsumer(
                broker.host, broker.port, base_topic="passerelle/test", client_id="billing-1"
            ).events()
            later = await take(again, 2)
            await again.aclose()

    assert one.body["data"]["raw"] == "AWAY-1"
    assert one.topic == "scan"
    assert [e.body["data"]["raw"] for e in later] == ["AWAY-2", "AWAY-3"]


async def test_an_event_the_broker_delivers_twice_is_handed_over_once_and_garbage_is_skipped(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    consumer = EventConsumer(broker.host, broker.port, base_topic="passerelle/test", client_id="billing-2")
    events = consumer.events()
    with SerialScannerSimulator(tmp_path / "ttyscan") as scanner:
        async with (
            collect(broker.host, broker.port, "passerelle/test/#") as mqtt,
            inprocess_daemon(scanner_config(broker, tmp_path, scanner.link)),
            aiomqtt.Client(broker.host, broker.port) as replayer,
        ):
            await mqtt.wait_for(
                lambda ms: any(m.topic == "passerelle/test/counter/availability" for m in ms),
                what="the scanner online",
            )
            taking = asyncio.create_task(take(events, 1))
            await asyncio.wait_for(consumer.subscribed.wait(), 10)
            await scanner.scan("TWICE-1")
            [first] = await taking
            # What a daemon killed before the PUBACK does on restart: the same event again.
            await replayer.publish("passerelle/test/scan", json.dumps(first.body), qos=1)
            await replayer.publish("passerelle/test/scan", b"not json", qos=1)
            await scanner.scan("TWICE-2")
            [second] = await take(events, 1)
            await events.aclose()

    assert second.body["data"]["raw"] == "TWICE-2"
    assert consumer.stats.duplicates_dropped == 1
    assert consumer.stats.malformed == 1
    assert consumer.stats.delivered == 2
