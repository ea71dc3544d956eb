"""Consuming a Passerelle station's events over MQTT as docs/mqtt.md asks a consumer to: a persistent
session with QoS 1 (events published while the consumer is away wait for it at the broker), and each
event handed over once, by ``event_id`` (the daemon delivers at least once).

A consumer library for billing back ends, kept apart from the daemon: it depends on aiomqtt only and
nothing in ``daemon/`` imports it.

    consumer = EventConsumer("127.0.0.1", base_topic="passerelle/comptoir-1", client_id="billing-1")
    async for event in consumer.events():
        if event.schema == "passerelle.scan/1":
            ...

The broker acknowledges a message once it reaches this process, before your code has handled it: a
crash between the two loses that message for this session. Record ``event.event_id`` with your own
write, and on restart treat a replayed id as done.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
import ssl
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

# The event channels of docs/mqtt.md; state topics are retained and are not events.
EVENT_CHANNELS = ("scan", "card", "card-data", "observance", "bridge/loss")


@dataclass(frozen=True)
class Event:
    topic: str  # below the base topic, e.g. "scan"
    schema: str  # e.g. "passerelle.scan/1"
    event_id: str
    body: dict[str, Any]  # the whole envelope: schema, event_id, occurred_at, station, device, data


@dataclass
class ConsumerStats:
    connections: int = 0
    delivered: int = 0
    duplicates_dropped: int = 0
    malformed: int = 0  # payloads that are not an event envelope: logged by topic, skipped


class RecentIds:
    """The last ``capacity`` event ids handed over; the oldest is forgotten first."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._ids: collections.OrderedDict[str, None] = collections.OrderedDict()

    def admit(self, event_id: str) -> bool:
        """True the first time an id is seen, False for a repeat."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True


@dataclass
class EventConsumer:
    host: str
    port: int = 1883
    base_topic: str = "passerelle"
    # Stable across restarts: the broker keeps the session (and what arrives meanwhile) under this id.
    client_id: str = "passerelle-consumer"
    channels: Iterable[str] = EVENT_CHANNELS
    session_expiry_seconds: int = 7 * 24 * 3600
    dedupe_window: int = 10_000
    username: str | None = None
    password: str | None = None
    tls_context: ssl.SSLContext | None = None
    reconnect_min_seconds: float = 0.5
    reconnect_max_seconds: float = 30.0
    stats: ConsumerStats = field(default_factory=ConsumerStats)

    def __post_init__(self) -> None:
        self._recent = RecentIds(self.dedupe_window)
        # Set while subscribed: from then on the broker keeps this session's events, even while away.
        self.subscribed = asyncio.Event()
        self._prefix = self.base_topic.rstrip("/") + "/"

    def _client(self) -> aiomqtt.Client:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.session_expiry_seconds
        return aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=properties,
            username=self.username,
            password=self.password,
            tls_context=self.tls_context,
        )

    async def events(self) -> AsyncGenerator[Event, None]:
        """Every event once, in the broker's order; reconnects with back-off on its own, forever."""
        failures = 0
        while True:
            try:
                async with self._client() as client:
                    self.stats.connections += 1
                    failures = 0
                    for channel in self.channels:
                        await client.subscribe(self._prefix + channel, qos=1)
                    self.subscribed.set()
                    async for message in client.messages:
                        event = self._admit(str(message.topic), message.payload)
                        if event is not None:
                            yield event
            except aiomqtt.MqttError as exc:
                self.subscribed.clear()
                ceiling = min(self.reconnect_max_seconds, self.reconnect_min_seconds * 2**failures)
                failures += 1
                log.warning("broker %s:%d lost (%s); retrying", self.host, self.port, exc)
                await asyncio.sleep(random.uniform(ceiling / 2, ceiling))

    def _admit(self, topic: str, payload: Any) -> Event | None:
        relative = topic.removeprefix(self._prefix)
        try:
            body = json.loads(payload)
            schema, event_id = body["schema"], body["event_id"]
            if not isinstance(schema, str) or not isinstance(event_id, str):
                raise TypeError("schema and event_id are strings")
        except (ValueError, TypeError, KeyError) as exc:
            # The topic, never the payload: a payload may hold what a log must not.
            self.stats.malformed += 1
            log.warning("skipped a payload on %s that is not an event: %s", relative, type(exc).__name__)
            return None
        if not self._recent.admit(event_id):
            self.stats.duplicates_dropped += 1
            return None
        self.stats.delivered += 1
        return Event(topic=relative, schema=schema, event_id=event_id, body=body)
