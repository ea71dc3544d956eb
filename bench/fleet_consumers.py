"""The billing side of the fleet bench: a consumer group per engine, and a ledger of what it received.

- Mosquitto: MQTT 5 shared subscription ``$share/billing/passerelle/+/synthetic``, one aiomqtt client
  per worker; the broker spreads the messages over the group.
- NATS: one durable pull consumer on the MQTT gateway's own ``$MQTT_msgs`` stream (replicas 3), filtered
  on the stations' events, that every worker fetches from (with standalone nodes, one per node). The gateway stores a QoS 1 publish there
  before it sends the station its PUBACK, so what a station deleted from its outbox is in that stream:
  no event is lost when a node dies. (A stream of our own capturing ``passerelle.*.synthetic`` from
  core NATS lost what the gateway published while that stream had no leader: 1,298 of 12,000 events.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiomqtt
import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import FetchTimeoutError, NotFoundError

SHARED_FILTER = "$share/billing/passerelle/+/synthetic"
MQTT_MESSAGES_STREAM = "$MQTT_msgs"  # nats-server's MQTT gateway: every QoS 1 publish, by subject
MQTT_EVENTS_SUBJECT = "$MQTT.msgs.passerelle.*.synthetic"  # MQTT topic passerelle/<station>/synthetic
DURABLE = "billing"


@dataclass
class Ledger:
    """Every delivery, by event id and by station, with station → consumer latency."""

    deliveries: int = 0
    ids: Counter[str] = field(default_factory=Counter)
    seqs: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (monotonic arrival, seconds)
    arrivals: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # monotonic
    by_worker: Counter[str] = field(default_factory=Counter)
    first_at: float | None = None
    last_at: float = 0.0

    def add(self, payload: bytes, worker: str) -> None:
        now, wall = time.monotonic(), time.time()
        event = json.loads(payload)
        self.deliveries += 1
        self.by_worker[worker] += 1
        if self.ids[event["event_id"]] == 0:
            station = event["station"]
            self.seqs[station].add(event["data"]["seq"])
            self.arrivals[station].append(now)
            # Same host, same clock: occurred_at is set by the station when its driver made the event.
            self.latencies.append((now, wall - datetime.fromisoformat(event["occurred_at"]).timestamp()))
        self.ids[event["event_id"]] += 1
        self.first_at = self.first_at or now
        self.last_at = now

    def latencies_between(self, start: float, end: float = float("inf")) -> list[float]:
        return [latency for at, latency in self.latencies if start <= at < end]

    @property
    def unique(self) -> int:
        return len(self.ids)

    @property
    def duplicates(self) -> int:
        return self.deliveries - self.unique

    def received(self) -> int:
        return sum(len(s) for s in self.seqs.values())

    def largest_gap(self, station: str, after: float) -> float:
        """Longest silence in a station's deliveries that ends after ``after`` (a monotonic time)."""
        times = self.arrivals.get(station, [])
        gaps = [b - a for a, b in itertools.pairwise(times) if b > after]
        return max(gaps, default=0.0)

    def largest_gap_span(self, station: str, after: float) -> tuple[float, float]:
        """(start, end) of that silence (monotonic), or (after, after) when there is none."""
        times = self.arrivals.get(station, [])
        spans = [(a, b) for a, b in itertools.pairwise(times) if b > after]
        return max(spans, key=lambda span: span[1] - span[0], default=(after, after))


@contextlib.asynccontextmanager
async def mosquitto_group(host: str, port: int, ledger: Ledger, workers: int) -> AsyncIterator[None]:
    async def worker(name: str, ready: asyncio.Event) -> None:
        async with aiomqtt.Client(host, port, identifier=name, protocol=aiomqtt.ProtocolVersion.V5) as client:
            await client.subscribe(SHARED_FILTER, qos=1)
            ready.set()
            async for message in client.messages:
                ledger.add(message.payload if isinstance(message.payload, bytes) else b"", name)

    async with _run_group(worker, workers):
        yield


async def mqtt_messages_stream(
    jetstream: JetStreamContext, mqtt_host: str, mqtt_port: int, timeout: float = 30.0
) -> None:
    """Until the gateway's ``$MQTT_msgs`` exists. The gateway creates its streams when the account's
    first MQTT client connects, so one client connects first. The durable must exist before the
    stations publish: the stream keeps a message only while some consumer is interested in it."""
    async with aiomqtt.Client(
        mqtt_host, mqtt_port, identifier="billing-setup", protocol=aiomqtt.ProtocolVersion.V311
    ):
        pass
    deadline = time.monotonic() + timeout
    while True:
        try:
            await jetstream.stream_info(MQTT_MESSAGES_STREAM)
            return
        except NotFoundError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@dataclass(frozen=True)
class JetStreamSite:
    """Where one ``$MQTT_msgs`` lives: a cluster (every node's URL) or one standalone node."""

    client_urls: list[str]
    mqtt_port: int


@contextlib.asynccontextmanager
async def nats_group(
    sites: list[JetStreamSite], mqtt_host: str, ledger: Ledger, workers_per_site: int
) -> AsyncIterator[None]:
    """A durable pull consumer on each site's ``$MQTT_msgs``, ``workers_per_site`` workers fetching from
    it; a site whose node is down is fetched from again once it is back (its connection reconnects)."""
    connections: list[NatsClient] = []
    jetstreams: list[JetStreamContext] = []
    try:
        for site in sites:
            connection = await nats.connect(
                servers=site.client_urls, max_reconnect_attempts=-1, reconnect_time_wait=0.2
            )
            connections.append(connection)
            jetstream = connection.jetstream()
            await mqtt_messages_stream(jetstream, mqtt_host, site.mqtt_port)
            await jetstream.add_consumer(
                MQTT_MESSAGES_STREAM,
                ConsumerConfig(
                    durable_name=DURABLE,
                    filter_subject=MQTT_EVENTS_SUBJECT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_policy=AckPolicy.EXPLICIT,
                    # A batch whose acks were lost (the worker died, or the consumer's own leader did) goes out
                    # again after this: duplicates, which billing drops by event id, rather than a long silence.
                    ack_wait=5,
                    max_ack_pending=20_000,  # 20 stations' worth of a node outage, in flight to the workers
                ),
            )
            jetstreams.append(jetstream)

        async def worker(name: str, ready: asyncio.Event) -> None:
            jetstream = jetstreams[int(name.rsplit("-", 1)[1]) // workers_per_site]
            subscription = await jetstream.pull_subscribe_bind(durable=DURABLE, stream=MQTT_MESSAGES_STREAM)
            ready.set()
            while True:
                try:
                    # A short wait: fetch holds a partial batch until its timeout, which is then the latency.
                    messages = await subscription.fetch(200, timeout=0.2)
                except (FetchTimeoutError, TimeoutError, nats.errors.Error):
                    continue  # nothing new, an election, or the site's node down: fetch again
                for message in messages:
                    ledger.add(message.data, name)
                    await message.ack()

        async with _run_group(worker, len(sites) * workers_per_site):
            yield
    finally:
        for connection in connections:
            await connection.close()


@contextlib.asynccontextmanager
async def _run_group(
    worker: Callable[[str, asyncio.Event], Coroutine[Any, Any, None]], count: int
) -> AsyncIterator[None]:
    """Run ``count`` workers; yield once each has subscribed (set its event); cancel them on exit."""
    readies = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(worker(f"billing-{n}", ready)) for n, ready in enumerate(readies)]
    try:

        async def all_subscribed() -> None:
            await asyncio.gather(*(ready.wait() for ready in readies))

        subscribed = asyncio.create_task(all_subscribed())
        pending: list[asyncio.Task[None]] = [subscribed, *tasks]
        done, _ = await asyncio.wait(pending, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if subscribed not in done:
            failed = [t.exception() for t in tasks if t.done()]
            subscribed.cancel()
            raise RuntimeError(f"the consumer group did not subscribe: {failed or 'timed out'}")
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
