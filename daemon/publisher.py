"""MQTT publisher: drains the outbox oldest first with many QoS 1 publishes in flight, keeps retained
topics current, and answers bridge requests.

It talks to two seams only (daemon/session.py): an outbox cursor and a broker session, one per
connection attempt (daemon/mqtt_session.py over aiomqtt; an in-memory double in tests). Each attempt
follows a capped, jittered exponential backoff, reset only after the connection stayed up for a while.
A row leaves the outbox only after its PUBACK; a publish that failed may still reach the broker later
(the MQTT client keeps it), which is why delivery is at least once and payloads carry event ids. A
row the broker keeps refusing, or keeps dropping the connection on, is set aside in the quarantine after
a few tries (see daemon/delivery.py) so that the rows behind it flow.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from passerelle.daemon.backoff import Backoff
from passerelle.daemon.config import MqttSettings
from passerelle.daemon.delivery import DeliveryTracker, SetAside
from passerelle.daemon.events import Availability
from passerelle.daemon.log_limit import RateLimitedLog
from passerelle.daemon.mqtt_session import aiomqtt_sessions
from passerelle.daemon.outbox_types import OutboxRow
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.servers import ServerRotation, explain_failure
from passerelle.daemon.session import (
    ANSWER_TIMEOUT_SECONDS,
    REFUSED,
    AclRefusedError,
    BrokerSession,
    OutboxCursor,
    PublishRefusedError,
    SessionError,
    SessionFactory,
    SessionTimeoutError,
)
from passerelle.daemon.signals import Signal
from passerelle.daemon.topics import Topics

log = logging.getLogger(__name__)

FETCH_PAGE = 500
BIRTH_ECHO_SECONDS = 15.0  # MQTT 3.1.1: how long our own birth may take to come back before draining
# With several servers: how long the session's opening requests (subscriptions, birth) may wait for
# their answer before the next server is tried. A NATS node whose JetStream lost its raft leaders with
# another node holds them until its own 4 s API timeout, often twice (measured: 10 s, aiomqtt's whole
# timeout, then a failover that worked at once); a healthy node answers in milliseconds.
OPENING_TIMEOUT_SECONDS = 4.5
STABLE_AFTER_SECONDS = 30.0  # a connection that lasted this long resets the backoff
ONLINE = Availability(state="online").model_dump_json().encode()
OFFLINE = Availability(state="offline").model_dump_json().encode()
ACL_HINT = "does the broker's ACL grant this station (mqtt.username) its base topic? events stay stored"


@dataclass(frozen=True, slots=True)
class Request:
    command: str
    payload: bytes
    response_topic: str | None  # MQTT 5 Response Topic, when the requester set one
    correlation_data: bytes | None
    retained: bool = False  # delivered as a retained message (refused: it would run at every reconnect)


@dataclass(frozen=True, slots=True)
class Answer:
    payload: bytes
    topic: str  # the station's own bridge/response/<command>
    reply_topic: str | None = None  # the requester's Response Topic, once checked to be ours to publish
    correlation_data: bytes | None = None


# Answers a request: the response payload and where it goes (never raises for bad input).
Responder = Callable[[Request], Awaitable[Answer]]


class CursorSource(Protocol):
    """The outbox, as the publisher sees it: a fresh cursor for each session."""

    def cursor(self) -> OutboxCursor: ...


class PublisherStats:
    def __init__(self) -> None:
        self.connected = False
        self.connects_total = 0
        self.published_total = 0
        self.failed_total = 0
        self.last_error: str | None = None
        self.broker_receive_maximum: int | None = None  # MQTT 5 CONNACK, when the broker sets one
        self.inflight_peak = 0  # most events awaiting PUBACK at once, over the daemon's life
        self.answers_failed = 0  # request answers that could not be published
        self.server: str | None = None  # the broker in use, or the one the current attempt goes to
        self.broker_maximum_packet_size: int | None = None  # MQTT 5 CONNACK, when the broker sets one
        # Each acknowledged row and the seconds since its driver handed it over.
        self.published: Signal[[OutboxRow, float]] = Signal("publisher.published")


class Publisher:
    def __init__(
        self,
        settings: MqttSettings,
        *,
        client_id: str,
        topics: Topics,
        outbox: CursorSource,
        retained: RetainedStore,
        router: Responder,
        set_aside: SetAside | None = None,
        sessions: SessionFactory | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.topics = topics
        self.outbox = outbox
        self.retained = retained
        self.router = router
        will = (topics.state, OFFLINE)
        self._open_session = sessions or aiomqtt_sessions(settings, client_id=client_id, will=will)
        self.stats = PublisherStats()
        self._session: BrokerSession | None = None  # the connected one
        self._birth_echo: asyncio.Event | None = None  # MQTT 3.1.1: set when our birth came back
        self._backoff = Backoff(settings.reconnect_min_seconds, settings.reconnect_max_seconds)
        self.servers = ServerRotation(settings.server_list())
        self._session_started = 0.0
        self._closed_soon = 0
        self._request_log = RateLimitedLog(log)
        self.delivery = DeliveryTracker(
            max_payload_bytes=settings.max_payload_bytes,
            tries=settings.quarantine_after,
            v5=settings.protocol == "5",
            set_aside=set_aside,
        )
        self._inflight: dict[int, OutboxRow] = {}  # the session's event publishes awaiting PUBACK, by id
        self._refused: tuple[OutboxRow, str] | None = None  # the row whose refusal ended the session

    # -- connection loop -------------------------------------------------------------------------

    async def run(self) -> None:
        """Forever: connect, serve, and on any session error reconnect after a backoff."""
        if self.settings.tls.enabled and not self.settings.tls.verify:
            log.warning(
                "MQTT TLS certificate verification is DISABLED: "
                "anyone on the network path can impersonate the broker"
            )
        while True:
            started = time.monotonic()
            self.stats.server = str(self.servers.current)
            session: BrokerSession | None = None
            try:
                session = self._open_session(self.servers.current)
                await self._serve(session)
            except* SessionError as group:
                self._connection_lost(str(group.exceptions[0]), session)
            except* Exception as group:  # a bug in one session must not end publishing for good
                if self._backoff.attempt == 0:
                    log.error("MQTT session failed unexpectedly", exc_info=group.exceptions[0])
                self._connection_lost(repr(group.exceptions[0]), session)
            finally:
                self._session = None
                self.stats.connected = False
            inflight, self._inflight = self._inflight, {}
            refused, self._refused = self._refused, None
            if await self.delivery.session_ended(inflight.values(), refused, self.stats.last_error):
                self.stats.failed_total += 1
            if time.monotonic() - started > STABLE_AFTER_SECONDS:
                self._backoff.reset()
            await asyncio.sleep(self.servers.next_attempt_delay(self._backoff))

    def _connection_lost(self, error: str, session: BrokerSession | None) -> None:
        server = self.servers.current
        if self.stats.connected:  # an accepted session ended: count the short ones in a row
            lasted = time.monotonic() - self._session_started
            self._closed_soon = self._closed_soon + 1 if lasted < STABLE_AFTER_SECONDS else 0
        reason = session.disconnect_reason if session is not None else None
        error = explain_failure(error, reason, self.client_id, self._closed_soon)
        self.stats.last_error = self.servers.failed(error)
        level = logging.WARNING if self._backoff.attempt == 0 else logging.DEBUG
        log.log(level, "MQTT connection to %s lost or refused: %s", server, error)

    async def _serve(self, session: BrokerSession) -> None:
        async with session:
            self._session = session
            self._connected(session)
            opening = OPENING_TIMEOUT_SECONDS if len(self.servers.servers) > 1 else None
            await self._open(session, opening)
            # The birth, on every connect.
            await session.publish(self.topics.state, ONLINE, qos=1, retain=True, timeout=opening)
            self.retained.mark_all_dirty()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._drain(session, self._birth_echo), name="mqtt-drain")
                group.create_task(self._publish_retained(session), name="mqtt-retained")
                group.create_task(self._serve_requests(session, group), name="mqtt-requests")

    def _connected(self, session: BrokerSession) -> None:
        limits = session.limits
        self.stats.broker_receive_maximum = limits.receive_maximum
        # Same CONNACK: a publish larger than its Maximum Packet Size would close the connection.
        self.stats.broker_maximum_packet_size = limits.maximum_packet_size
        self.delivery.broker_max_packet = limits.maximum_packet_size
        if limits.receive_maximum is not None and limits.receive_maximum < self.settings.max_inflight:
            log.info(
                "the broker takes at most %d publishes in flight (mqtt.max_inflight is %d)",
                limits.receive_maximum,
                self.settings.max_inflight,
            )
        self.stats.connected = True
        self._session_started = time.monotonic()
        self.servers.connected()
        self.stats.connects_total += 1
        log.info("MQTT connected to %s", self.servers.current)

    async def _open(self, session: BrokerSession, opening: float | None) -> None:
        """Subscribe first, so that "online" also means "listening to requests". A refusal is how an
        ACL that does not match this station shows on every engine (a MQTT 3.1.1 broker may acknowledge
        a refused publish and drop it): stop before publishing anything."""
        topic = self.topics.requests
        v5 = self.settings.protocol == "5"
        try:
            # MQTT 3.1.1 stations use a clean session, so a QoS 1 subscription keeps nothing across a
            # reconnect; on NATS it would be a JetStream consumer whose creation stalls while a lost
            # node's raft groups elect leaders (4 s, then a refused SUBACK). QoS 0 is a plain NATS
            # subscription there. Requests are answered or time out at the caller either way.
            granted = await session.subscribe(
                topic, qos=1 if v5 else 0, retain_as_published=v5, timeout=opening
            )
        except SessionTimeoutError as exc:
            # Not a refusal: a cluster electing its leaders can hold a SUBACK (see docs/fleet.md).
            waited = ANSWER_TIMEOUT_SECONDS if opening is None else opening
            raise SessionTimeoutError(
                f"timeout waiting for SUBACK from {self.servers.current} for {topic} after {waited} s "
                "(the broker did not answer, e.g. while electing a leader); events stay stored"
            ) from exc
        except SessionError as exc:
            raise AclRefusedError(f"subscribing to {topic} failed ({exc}): {ACL_HINT}") from exc
        if any(code >= REFUSED for code in granted):
            raise AclRefusedError(f"the broker refused the subscription to {topic}: {ACL_HINT}")
        self._birth_echo = None
        if self.settings.protocol == "3.1.1":
            # MQTT 3.1.1 cannot refuse a publish: a broker may acknowledge one its ACL refused and
            # drop it (NATS 2.9 does). Our birth coming back proves we may publish under our base.
            # QoS 0: on NATS a QoS 1 subscription is a JetStream consumer, whose deliveries stall
            # while a node lost takes its raft leaders away (measured: the echo 7-20 s late after
            # a node kill, so the drain waited that long). A QoS 0 one is a plain NATS
            # subscription, and the echo proves the ACL just as well.
            await session.subscribe(self.topics.state, qos=0, timeout=opening)
            self._birth_echo = asyncio.Event()

    async def stop(self) -> None:
        """Say goodbye explicitly: the Will is only for crashes."""
        session = self._session
        if session is None:
            return
        try:
            await session.publish(self.topics.state, OFFLINE, qos=1, retain=True, timeout=2)
        except SessionError as exc:
            log.warning("could not publish offline state: %s", exc)

    # -- outbox drain ----------------------------------------------------------------------------

    async def _drain(self, session: BrokerSession, birth_echo: asyncio.Event | None) -> None:
        """Publish outbox rows oldest first, ``max_inflight`` at a time, deleting each on its PUBACK.

        Events go through the session's non-waiting ``send_event``: an awaited publish per event
        would cap the pipeline well below the broker's pace. The loop is woken by one Event rather
        than a semaphore: PUBACKs arrive in bursts, so one wake-up refills many slots.
        """
        if birth_echo is not None:
            try:
                await asyncio.wait_for(birth_echo.wait(), BIRTH_ECHO_SECONDS)
            except TimeoutError:
                raise AclRefusedError(
                    f"the broker acknowledged {self.topics.state} but never delivered it back: it drops "
                    "this station's publishes (does its ACL grant mqtt.username this base topic?); "
                    "events stay stored"
                ) from None
        maximum = self.settings.max_inflight
        limit = min(maximum, session.limits.receive_maximum or maximum)
        cursor = self.outbox.cursor()
        inflight: dict[int, OutboxRow] = {}
        self._inflight = inflight
        room = asyncio.Event()  # set when a slot frees up or the broker refused an event
        refusal: list[PublishRefusedError] = []
        again: list[OutboxRow] = []  # the held-back suspect, once another event passed
        stats, delivery = self.stats, self.delivery

        def acknowledged(packet_id: int, refused: str | None) -> bool:
            row = inflight.pop(packet_id, None)
            if row is None:
                return False  # one of the session's own publishes (retained topics, responses)
            room.set()
            if refused is not None:
                stats.failed_total += 1
                self._refused = self._refused or (row, f"the broker refused it: {refused}")
                refusal.append(PublishRefusedError(f"broker refused an event: {refused}"))
                cursor.wake()  # wake the drain if it waits for rows
                return True
            cursor.acknowledged(row)
            last_try = delivery.delivered(row.seq)
            if last_try is not None:  # the broker takes other events: the held-back suspect's turn
                again.append(last_try)
                cursor.wake()
            stats.published_total += 1
            stats.published.emit(row, time.time() - row.created_at)
            return True

        session.stream_events(acknowledged)
        delivery.session_started()
        sized = delivery.max_payload_bytes is not None or delivery.broker_max_packet is not None
        probing: int | None = None  # a suspect row sent alone in this session
        while True:
            if refusal:
                raise refusal[0]  # the session ends and the row is sent again later
            rows = await cursor.next_rows(FETCH_PAGE, wait=not again)
            if again:
                rows, again = [*again, *rows], []
            for row in rows:
                # Rarely true (a suspect row, or the rows of a connection that died): the common path
                # skips the per-row checks. Only a session's end sets these, so within it they only clear.
                sorting = delivery.suspect is not None or delivery.careful_until is not None
                if sorting and delivery.holds_back(row):
                    continue
                while not refusal and (
                    len(inflight) >= limit or (sorting and inflight and delivery.goes_alone(row.seq, probing))
                ):
                    room.clear()
                    await room.wait()
                if refusal:
                    raise refusal[0]
                if sized and (too_large := delivery.too_large(row.topic, len(row.payload))) is not None:
                    await delivery.give_up(row, 0, too_large)
                    continue
                try:
                    packet_id = session.send_event(row.topic, row.payload)
                except ValueError as exc:  # e.g. a wildcard in the topic: no broker will ever take it
                    await delivery.give_up(row, 0, f"cannot be published: {exc}")
                    continue
                except SessionError:
                    stats.failed_total += 1
                    raise
                if row.seq == delivery.suspect:
                    probing = row.seq
                inflight[packet_id] = row
                if len(inflight) > stats.inflight_peak:
                    stats.inflight_peak = len(inflight)

    # -- retained topics -------------------------------------------------------------------------

    async def _publish_retained(self, session: BrokerSession) -> None:
        while True:
            await self.retained.changed.wait()
            dirty = self.retained.take_dirty()
            try:
                await asyncio.gather(
                    *(session.publish(topic, payload, qos=1, retain=True) for topic, payload in dirty.items())
                )
            except SessionError:
                self.retained.restore_dirty(dirty)
                raise

    # -- requests --------------------------------------------------------------------------------

    async def _serve_requests(self, session: BrokerSession, group: asyncio.TaskGroup) -> None:
        async for message in session.messages():
            command = self.topics.command_of(message.topic)
            if command is None:
                echo = message.topic == self.topics.state and message.payload == ONLINE
                if echo and self._birth_echo is not None:
                    self._birth_echo.set()
                continue
            if message.retain and not message.payload:
                continue  # a requester clearing the retained request we refused: not a request
            reply_to, correlation = message.response_topic, message.correlation_data
            request = Request(command, message.payload, reply_to, correlation, retained=message.retain)
            group.create_task(self._answer(session, request))

    async def _answer(self, session: BrokerSession, request: Request) -> None:
        """Runs in the session's task group: whatever fails here is caught, or it would end the session
        (and delay every event) for one request."""
        try:
            answer = await self.router(request)
            await session.publish(answer.topic, answer.payload, qos=1)
            if answer.reply_topic is not None:
                await session.publish(
                    answer.reply_topic, answer.payload, qos=1, correlation_data=answer.correlation_data
                )
        except Exception as exc:
            self.stats.answers_failed += 1
            self._request_log.log(
                logging.WARNING,
                type(exc).__name__,
                "the answer to request %r was not published: %r",
                request.command[:64],
                exc,
            )
