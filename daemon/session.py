"""The publisher's two seams, as httpx puts a transport under its client: an outbox cursor on one side
and a broker session on the other.

The publisher (drain, flow control, retained topics, requests, reconnection) talks only to these
protocols. The MQTT library behind the session lives in daemon/mqtt_session.py, and an in-memory
double (passerelle.testing.memory_session) lets the drain be tested without a broker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from passerelle.daemon.outbox_types import OutboxRow
from passerelle.daemon.servers import Server

REFUSED = 0x80  # a SUBACK or PUBACK code from here on is a refusal (MQTT 5 and 3.1.1 alike)
ANSWER_TIMEOUT_SECONDS = 10.0  # the CONNACK, and any answer awaited without a timeout of its own


class SessionError(Exception):
    """The session failed or ended (refused connection, lost connection, no answer): reconnect."""


class SessionTimeoutError(SessionError):
    """The broker did not answer a request (SUBACK, PUBACK) in time; the connection may still be up."""


class PublishRefusedError(SessionError):
    """The broker answered a publish with an error reason code (MQTT 5): the event stays stored."""


class AclRefusedError(SessionError):
    """The broker refused the station its own topics: its ACL does not match this station."""


@dataclass(frozen=True, slots=True)
class BrokerLimits:
    """What the broker announced in its CONNACK (MQTT 5); None when it set no limit."""

    receive_maximum: int | None = None
    maximum_packet_size: int | None = None


@dataclass(frozen=True, slots=True)
class DisconnectReason:
    """Why the last connection ended, as the broker said it (MQTT 5 DISCONNECT reason code; 0 when
    the connection just dropped). Read by ``servers.explain_failure``."""

    value: int
    text: str

    @property
    def is_failure(self) -> bool:
        return self.value >= REFUSED

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    topic: str
    payload: bytes
    retain: bool = False
    response_topic: str | None = None  # MQTT 5 Response Topic, when the sender set one
    correlation_data: bytes | None = None


# Told of each publish's acknowledgement: its packet id and the broker's refusal (None: taken); returns
# whether the packet id was one of the drain's events (the others are the session's own publishes).
Acknowledged = Callable[[int, str | None], bool]


class BrokerSession(Protocol):
    """One connection attempt to one server; not reusable once closed."""

    limits: BrokerLimits
    disconnect_reason: DisconnectReason | None  # the broker's reason for ending it, once it ended

    async def __aenter__(self) -> BrokerSession:
        """Connect (raises SessionError when refused, lost before CONNACK, or too slow)."""

    async def __aexit__(self, *exc_info: object) -> None:
        """Close: a clean DISCONNECT if the connection is still up."""

    async def subscribe(
        self, topic: str, *, qos: int, retain_as_published: bool = False, timeout: float | None = None
    ) -> list[int]:
        """The SUBACK's codes: granted QoS, or a refusal (``>= REFUSED``)."""

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        correlation_data: bytes | None = None,
        timeout: float | None = None,
    ) -> Awaitable[None]:
        """Completes on the acknowledgement (at once for QoS 0). For the session's own publishes (birth,
        retained topics, answers) a PUBACK's error code is not reported, as with aiomqtt 2's publish;
        events, whose refusals matter, go through ``send_event``."""

    def stream_events(self, acknowledged: Acknowledged) -> None:
        """Route the acknowledgements of ``send_event`` publishes to ``acknowledged`` (the drain). A session
        may pass it other packet ids too: its answer says whether the id was one of the events."""

    def send_event(self, topic: str, payload: bytes) -> int:
        """Publish an event at QoS 1 without waiting; returns its packet id, acknowledged through the
        ``stream_events`` callback. ValueError: no broker can ever take it (e.g. a wildcard topic);
        SessionError: the connection cannot send."""

    def messages(self) -> AsyncIterator[IncomingMessage]:
        """Messages of our subscriptions, until the connection ends (then SessionError)."""


# Opens a session to a server (the daemon's: aiomqtt; tests': the in-memory double).
SessionFactory = Callable[[Server], BrokerSession]


class OutboxCursor(Protocol):
    """The drain's view of the outbox during one session: oldest unsent rows first."""

    async def next_rows(self, limit: int, *, wait: bool = True) -> list[OutboxRow]:
        """The next rows after the ones already handed out; when there are none and ``wait``, waits
        for new rows (or ``wake``) and returns what is there then, possibly nothing."""

    def acknowledged(self, row: OutboxRow) -> None:
        """The broker acknowledged ``row``: it leaves the outbox (durably with a later commit)."""

    def wake(self) -> None:
        """Make a waiting ``next_rows`` return, so that the drain looks at its own state again."""
