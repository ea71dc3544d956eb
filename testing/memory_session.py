"""An MQTT broker in memory, behind the publisher's session seam (passerelle.daemon.session).

Lets the drain and its flow control be tested without a broker or a socket: the broker acknowledges
(at once, after a delay, or when told), refuses a publish with a reason code, drops the connection on
cue, and enforces the limits it announces in its CONNACK like a strict broker would: a client that
exceeds its Receive Maximum, or sends a packet beyond its Maximum Packet Size, is disconnected.

    broker = MemoryBroker(receive_maximum=5)
    publisher = Publisher(settings, ..., sessions=broker.session)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from passerelle.daemon.delivery import publish_packet_size
from passerelle.daemon.servers import Server
from passerelle.daemon.session import (
    ANSWER_TIMEOUT_SECONDS,
    Acknowledged,
    BrokerLimits,
    DisconnectReason,
    IncomingMessage,
    SessionError,
    SessionTimeoutError,
)

RECEIVE_MAXIMUM_EXCEEDED = DisconnectReason(0x93, "Receive Maximum exceeded")
PACKET_TOO_LARGE = DisconnectReason(0x95, "Packet too large")
CONNECTION_DROPPED = DisconnectReason(0, "connection dropped")
NOT_AUTHORIZED = 0x87


@dataclass(frozen=True, slots=True)
class Received:
    """A publish the broker acknowledged (what a subscriber would have seen)."""

    topic: str
    payload: bytes
    retain: bool
    server: Server


@dataclass(slots=True)
class _Pending:
    packet_id: int
    topic: str
    payload: bytes
    retain: bool
    done: asyncio.Future[None] | None  # the awaited publishes; None for events (acknowledged by callback)


def topic_matches(pattern: str, topic: str) -> bool:
    wanted, parts = pattern.split("/"), topic.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(parts) or (level != "+" and level != parts[index]):
            return False
    return len(wanted) == len(parts)


@dataclass
class MemoryBroker:
    """Every server of the station's list, in one object; a session per connection attempt."""

    receive_maximum: int | None = None
    maximum_packet_size: int | None = None
    v5: bool = True
    # Seconds before a PUBACK; None: an event's only when ``acknowledge`` is called (the session's own
    # publishes, such as the birth, are then acknowledged at once).
    ack_delay: float | None = 0.0
    down: set[Server] = field(default_factory=set)  # servers that refuse the connection
    silent: set[Server] = field(default_factory=set)  # servers that never answer a SUBACK
    hang_up: set[Server] = field(default_factory=set)  # servers that close instead of a SUBACK (RabbitMQ)
    refused_topics: set[str] = field(default_factory=set)  # subscriptions answered with 0x87
    # Returns the reason code text for a publish the broker refuses (MQTT 5 PUBACK), else None.
    refuse: Callable[[str, bytes], str | None] = lambda _topic, _payload: None
    received: list[Received] = field(default_factory=list)
    retained: dict[str, bytes] = field(default_factory=dict)
    attempts: list[Server] = field(default_factory=list)  # every connection attempt, in order
    sessions: list[MemorySession] = field(default_factory=list)  # accepted ones
    inflight_peak: int = 0  # most QoS 1 publishes unacknowledged at once, any session

    def session(self, server: Server) -> MemorySession:
        """The publisher's session factory."""
        self.attempts.append(server)
        return MemorySession(self, server)

    @property
    def current(self) -> MemorySession:
        return self.sessions[-1]

    def drop(self, reason: DisconnectReason = CONNECTION_DROPPED) -> None:
        """End the current session as a broker restart or a network cut would: unacknowledged
        publishes are lost (their PUBACKs never come)."""
        self.current.end(reason)

    def acknowledge(self, count: int | None = None) -> int:
        """Send the event PUBACKs held back (``ack_delay=None``), oldest first; returns how many."""
        return self.current.acknowledge(count)


class MemorySession:
    def __init__(self, broker: MemoryBroker, server: Server) -> None:
        self._broker = broker
        self.server = server
        self.limits = BrokerLimits()
        self.disconnect_reason: DisconnectReason | None = None
        self.open = False
        self._next_id = 0
        self._pending: dict[int, _Pending] = {}
        self._subscriptions: list[str] = []
        self._incoming: asyncio.Queue[IncomingMessage | None] = asyncio.Queue()
        self._acknowledged: Acknowledged | None = None

    # -- connection ------------------------------------------------------------------------------

    async def __aenter__(self) -> MemorySession:
        await asyncio.sleep(0)
        broker = self._broker
        if self.server in broker.down:
            raise SessionError(f"[Errno 111] Connect call failed ('{self.server.host}', {self.server.port})")
        self.limits = BrokerLimits(broker.receive_maximum, broker.maximum_packet_size)
        self.open = True
        broker.sessions.append(self)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.end(None)

    def end(self, reason: DisconnectReason | None) -> None:
        if not self.open:
            return
        self.open = False
        self.disconnect_reason = reason
        for pending in self._pending.values():
            if pending.done is not None and not pending.done.done():
                pending.done.set_exception(SessionError("Disconnected during publish"))
        self._pending.clear()
        self._incoming.put_nowait(None)

    @property
    def pending(self) -> int:
        """QoS 1 publishes awaiting their PUBACK."""
        return len(self._pending)

    def _check_open(self) -> None:
        if not self.open:
            raise SessionError("The connection was lost.")

    # -- the seam --------------------------------------------------------------------------------

    async def subscribe(
        self, topic: str, *, qos: int, retain_as_published: bool = False, timeout: float | None = None
    ) -> list[int]:
        self._check_open()
        if self.server in self._broker.silent:
            await asyncio.sleep(ANSWER_TIMEOUT_SECONDS if timeout is None else timeout)
            raise SessionTimeoutError("Operation timed out")
        if topic in self._broker.refused_topics:
            return [NOT_AUTHORIZED]
        if self.server in self._broker.hang_up:
            self.end(CONNECTION_DROPPED)
            raise SessionError(f"the broker closed the connection instead: {CONNECTION_DROPPED}")
        self._subscriptions.append(topic)
        for retained_topic, payload in self._broker.retained.items():
            if payload and topic_matches(topic, retained_topic):
                self._incoming.put_nowait(IncomingMessage(retained_topic, payload, retain=True))
        return [qos]

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        correlation_data: bytes | None = None,
        timeout: float | None = None,
    ) -> None:
        self._check_open()
        if qos == 0:
            self._take(topic, payload, retain)
            return
        done = asyncio.get_running_loop().create_future()
        self._send(topic, payload, retain, done)
        await asyncio.wait_for(done, timeout)

    def stream_events(self, acknowledged: Acknowledged) -> None:
        self._acknowledged = acknowledged

    def send_event(self, topic: str, payload: bytes) -> int:
        self._check_open()
        if "+" in topic or "#" in topic:
            raise ValueError("Publish topic cannot contain wildcards.")
        return self._send(topic, payload, False, None)

    async def messages(self) -> AsyncIterator[IncomingMessage]:
        while True:
            message = await self._incoming.get()
            if message is None:
                raise SessionError("Disconnected during message iteration")
            yield message

    # -- the broker's side -----------------------------------------------------------------------

    def _send(self, topic: str, payload: bytes, retain: bool, done: asyncio.Future[None] | None) -> int:
        broker = self._broker
        self._next_id = self._next_id % 65535 + 1
        packet_id = self._next_id
        size = publish_packet_size(topic, len(payload), v5=broker.v5)
        if broker.maximum_packet_size is not None and size > broker.maximum_packet_size:
            asyncio.get_running_loop().call_soon(self.end, PACKET_TOO_LARGE)
            return packet_id
        self._pending[packet_id] = _Pending(packet_id, topic, payload, retain, done)
        broker.inflight_peak = max(broker.inflight_peak, len(self._pending))
        if broker.receive_maximum is not None and len(self._pending) > broker.receive_maximum:
            asyncio.get_running_loop().call_soon(self.end, RECEIVE_MAXIMUM_EXCEEDED)
        elif broker.ack_delay is not None or done is not None:  # held back: events only
            asyncio.get_running_loop().call_later(broker.ack_delay or 0.0, self._ack, packet_id)
        return packet_id

    def acknowledge(self, count: int | None) -> int:
        ids = list(self._pending)[:count]
        for packet_id in ids:
            self._ack(packet_id)
        return len(ids)

    def _ack(self, packet_id: int) -> None:
        pending = self._pending.pop(packet_id, None)
        if pending is None or not self.open:
            return
        refused = self._broker.refuse(pending.topic, pending.payload)
        if refused is None:
            self._take(pending.topic, pending.payload, pending.retain)
        if pending.done is not None:
            if not pending.done.done():
                pending.done.set_result(None)
        elif self._acknowledged is not None:
            self._acknowledged(packet_id, refused)

    def _take(self, topic: str, payload: bytes, retain: bool) -> None:
        self._broker.received.append(Received(topic, payload, retain, self.server))
        if retain:
            self._broker.retained[topic] = payload
        for session in self._broker.sessions:
            session.deliver(topic, payload)

    def deliver(self, topic: str, payload: bytes, **properties: str | bytes | None) -> None:
        """A message reaches this session if it subscribed to its topic (e.g. a request)."""
        if self.open and any(topic_matches(pattern, topic) for pattern in self._subscriptions):
            self._incoming.put_nowait(IncomingMessage(topic, payload, **properties))  # type: ignore[arg-type]
