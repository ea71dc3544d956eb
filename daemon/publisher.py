"""MQTT publisher: drains the outbox oldest first with many QoS 1 publishes in flight, keeps retained
topics current, and answers bridge requests.

aiomqtt does not reconnect by itself: each attempt builds a fresh client (reusing one after a failed
connect is a known source of bugs) and waits with capped, jittered exponential backoff, reset only
after the connection stayed up for a while. A row leaves the outbox only after its PUBACK; a publish
that failed may still reach the broker later (paho keeps it), which is why delivery is at least once
and payloads carry event ids. A row the broker keeps refusing, or keeps dropping the connection on, is
set aside in the quarantine after a few tries (see daemon/delivery.py) so that the rows behind it flow.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import aiomqtt
from paho.mqtt.client import MQTT_ERR_SUCCESS
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from passerelle.daemon.backoff import Backoff
from passerelle.daemon.config import MqttSettings
from passerelle.daemon.delivery import DeliveryTracker, SetAside
from passerelle.daemon.events import Availability
from passerelle.daemon.log_limit import RateLimitedLog
from passerelle.daemon.mqtt_options import connection_options, payload_bytes, tls_context
from passerelle.daemon.outbox import Outbox, OutboxRow
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.servers import ServerRotation, explain_failure
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


class PublishRefusedError(aiomqtt.MqttError):
    """The broker answered a publish with an error reason code (MQTT 5): the event stays stored."""


class AclRefusedError(aiomqtt.MqttError):
    """The broker refused the station its own request topic: its ACL does not match this station."""


def _suback_refused(granted: Any) -> bool:
    """MQTT 5 reason codes or MQTT 3.1.1 granted QoS values; 0x80 and above is a refusal."""
    codes = granted if isinstance(granted, list | tuple) else [granted]
    return any(c.is_failure if isinstance(c, ReasonCode) else int(c) >= 0x80 for c in codes)


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
        outbox: Outbox,
        retained: RetainedStore,
        router: Responder,
        set_aside: SetAside | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.topics = topics
        self.outbox = outbox
        self.retained = retained
        self.router = router
        self.stats = PublisherStats()
        self._client: aiomqtt.Client | None = None
        self._birth_echo: asyncio.Event | None = None  # MQTT 3.1.1: set when our birth came back
        self._tls: ssl.SSLContext | None = None
        self._backoff = Backoff(settings.reconnect_min_seconds, settings.reconnect_max_seconds)
        self.servers = ServerRotation(settings.server_list())
        self._disconnect_reason: object = None  # paho's reason for the last disconnection, if any
        self._session_started = 0.0
        self._closed_soon = 0
        self._request_log = RateLimitedLog(log)
        self.delivery = DeliveryTracker(
            max_payload_bytes=settings.max_payload_bytes,
            tries=settings.quarantine_after,
            v5=settings.protocol == "5",
            set_aside=set_aside,
        )
        self._inflight: dict[int, OutboxRow] = {}  # the session's event publishes awaiting PUBACK, by mid
        self._refused: tuple[OutboxRow, str] | None = None  # the row whose refusal ended the session

    # -- connection loop -------------------------------------------------------------------------

    async def run(self) -> None:
        """Forever: connect, serve, and on any MQTT error reconnect after a backoff."""
        if self.settings.tls.enabled and not self.settings.tls.verify:
            log.warning(
                "MQTT TLS certificate verification is DISABLED: "
                "anyone on the network path can impersonate the broker"
            )
        while True:
            started = time.monotonic()
            try:
                await self._session()
            except* aiomqtt.MqttError as group:
                self._connection_lost(str(group.exceptions[0]))
            except* Exception as group:  # a bug in one session must not end publishing for good
                if self._backoff.attempt == 0:
                    log.error("MQTT session failed unexpectedly", exc_info=group.exceptions[0])
                self._connection_lost(repr(group.exceptions[0]))
            finally:
                self._client = None
                self.stats.connected = False
            inflight, self._inflight = self._inflight, {}
            refused, self._refused = self._refused, None
            if await self.delivery.session_ended(inflight.values(), refused, self.stats.last_error):
                self.stats.failed_total += 1
            if time.monotonic() - started > STABLE_AFTER_SECONDS:
                self._backoff.reset()
            await asyncio.sleep(self.servers.next_attempt_delay(self._backoff))

    def _connection_lost(self, error: str) -> None:
        server = self.servers.current
        if self.stats.connected:  # an accepted session ended: count the short ones in a row
            lasted = time.monotonic() - self._session_started
            self._closed_soon = self._closed_soon + 1 if lasted < STABLE_AFTER_SECONDS else 0
        error = explain_failure(error, self._disconnect_reason, self.client_id, self._closed_soon)
        self._disconnect_reason = None
        self.stats.last_error = self.servers.failed(error)
        level = logging.WARNING if self._backoff.attempt == 0 else logging.DEBUG
        log.log(level, "MQTT connection to %s lost or refused: %s", server, error)

    def _tls_context(self) -> ssl.SSLContext | None:
        """Built once (certificate files are read at the first attempt that finds them)."""
        if self._tls is None:
            self._tls = tls_context(self.settings.tls)
        return self._tls

    def _make_client(self) -> aiomqtt.Client:
        s = self.settings
        v5 = s.protocol == "5"
        self.stats.server = str(self.servers.current)
        client = aiomqtt.Client(
            **connection_options(s, self._tls_context(), self.servers.current),
            identifier=self.client_id,
            will=aiomqtt.Will(self.topics.state, OFFLINE, qos=1, retain=True),
            clean_session=None if v5 else True,
            keepalive=s.keepalive,
            # The drain bounds event publishes itself; paho's own cap would rescan every message in
            # flight on each PUBACK. A broker's Receive Maximum still caps paho (see below).
            max_inflight_messages=0,
            max_queued_outgoing_messages=None,
            timeout=10,
        )
        # Many publishes in flight is the design, not a symptom: silence aiomqtt's warning about it.
        client.pending_calls_threshold = s.max_inflight + 10
        self._honour_receive_maximum(client)
        self._fail_fast_before_connack(client)
        return client

    def _fail_fast_before_connack(self, client: aiomqtt.Client) -> None:
        """A connection lost before the broker's CONNACK fails the attempt at once.

        aiomqtt ignores a disconnection until it is connected, so an attempt whose connection is reset
        during the handshake (a broker restarting, a proxy turning us away) would otherwise wait out the
        whole client timeout (10 s) before the next attempt.
        """
        paho = client._client
        loop = asyncio.get_running_loop()
        # The future the (single) connection attempt of this fresh client waits on. Once it is done,
        # whether connected, refused or timed out (wait_for cancels it), this hook does nothing.
        handshake = client._connected
        aiomqtt_on_disconnect = cast(Callable[..., None], paho.on_disconnect)

        def fail(reason: object) -> None:
            if not handshake.done():
                handshake.set_exception(aiomqtt.MqttError(f"connection lost before CONNACK: {reason}"))

        def on_disconnect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None) -> None:
            self._disconnect_reason = reason  # aiomqtt's error drops it ("Disconnected during …")
            if not handshake.done():
                loop.call_soon_threadsafe(fail, reason)  # paho may call from aiomqtt's connect thread
            aiomqtt_on_disconnect(c, userdata, flags, reason, properties)

        paho.on_disconnect = on_disconnect

    def _honour_receive_maximum(self, client: aiomqtt.Client) -> None:
        """Obey the Receive Maximum an MQTT 5 broker announces in its CONNACK.

        It bounds the QoS 1 publishes in flight, ours and aiomqtt's together, and a strict broker
        disconnects a client that exceeds it. Neither aiomqtt nor paho reads it: it is taken from the
        CONNACK here, caps paho (whose public setter refuses once connected, hence the attribute) and
        bounds the drain.
        """
        paho = client._client
        aiomqtt_on_connect = cast(Callable[..., None], paho.on_connect)

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None) -> None:
            announced = getattr(properties, "ReceiveMaximum", None) if properties is not None else None
            self.stats.broker_receive_maximum = announced
            # Same CONNACK: a publish larger than its Maximum Packet Size would close the connection.
            packet = getattr(properties, "MaximumPacketSize", None) if properties is not None else None
            self.stats.broker_maximum_packet_size = packet
            self.delivery.broker_max_packet = packet
            if announced is not None:
                paho._max_inflight_messages = announced
                if announced < self.settings.max_inflight:
                    log.info(
                        "the broker takes at most %d publishes in flight (mqtt.max_inflight is %d)",
                        announced,
                        self.settings.max_inflight,
                    )
            aiomqtt_on_connect(c, userdata, flags, reason, properties)

        paho.on_connect = on_connect

    async def _session(self) -> None:
        async with self._make_client() as client:
            self._client = client
            self.stats.connected = True
            self._session_started = time.monotonic()
            self.servers.connected()
            self.stats.connects_total += 1
            log.info("MQTT connected to %s", self.servers.current)
            # Subscribe first, so that "online" also means "listening to requests". A refusal is how an
            # ACL that does not match this station shows on every engine (a MQTT 3.1.1 broker may
            # acknowledge a refused publish and drop it): stop before publishing anything.
            hint = (
                "does the broker's ACL grant this station (mqtt.username) its base topic? events stay stored"
            )
            opening = OPENING_TIMEOUT_SECONDS if len(self.servers.servers) > 1 else None
            try:
                granted = await client.subscribe(
                    self.topics.requests, **self._request_subscription(), timeout=opening
                )
            except aiomqtt.MqttError as exc:
                raise AclRefusedError(
                    f"subscribing to {self.topics.requests} failed ({exc}): {hint}"
                ) from exc
            if _suback_refused(granted):
                raise AclRefusedError(
                    f"the broker refused the subscription to {self.topics.requests}: {hint}"
                )
            self._birth_echo = None
            if self.settings.protocol == "3.1.1":
                # MQTT 3.1.1 cannot refuse a publish: a broker may acknowledge one its ACL refused and
                # drop it (NATS 2.9 does). Our birth coming back proves we may publish under our base.
                # QoS 0: on NATS a QoS 1 subscription is a JetStream consumer, whose deliveries stall
                # while a node lost takes its raft leaders away (measured: the echo 7-20 s late after
                # a node kill, so the drain waited that long). A QoS 0 one is a plain NATS
                # subscription, and the echo proves the ACL just as well.
                await client.subscribe(self.topics.state, qos=0, timeout=opening)
                self._birth_echo = asyncio.Event()
            # The birth, on every connect.
            await client.publish(self.topics.state, ONLINE, qos=1, retain=True, timeout=opening)
            self.retained.mark_all_dirty()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._drain(client, self._birth_echo), name="mqtt-drain")
                group.create_task(self._publish_retained(client), name="mqtt-retained")
                group.create_task(self._serve_requests(client, group), name="mqtt-requests")

    async def stop(self) -> None:
        """Say goodbye explicitly: the Will is only for crashes."""
        client = self._client
        if client is None:
            return
        try:
            await client.publish(self.topics.state, OFFLINE, qos=1, retain=True, timeout=2)
        except aiomqtt.MqttError as exc:
            log.warning("could not publish offline state: %s", exc)

    # -- outbox drain ----------------------------------------------------------------------------

    async def _drain(self, client: aiomqtt.Client, birth_echo: asyncio.Event | None) -> None:
        """Publish outbox rows oldest first, ``max_inflight`` at a time, deleting each on its PUBACK.

        Rows go straight to the paho client under aiomqtt: aiomqtt's ``publish`` costs an Event, a
        task and a scan of every pending call per message, which would cap the pipeline well below the
        broker's pace, and it treats an MQTT 5 PUBACK carrying an error reason code (quota, not
        authorized…) as a success, which would delete an event the broker refused.

        The loop is woken by one Event rather than a semaphore: PUBACKs arrive in bursts (paho reads
        every packet available at once), so one wake-up refills many slots.
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
        paho = client._client  # aiomqtt has no public non-awaiting publish
        limit = min(
            self.settings.max_inflight, self.stats.broker_receive_maximum or self.settings.max_inflight
        )
        inflight: dict[int, OutboxRow] = {}
        self._inflight = inflight
        room = asyncio.Event()  # set when a slot frees up or the broker refused an event
        refusal: list[PublishRefusedError] = []
        aiomqtt_on_publish = cast(Callable[..., None] | None, paho.on_publish)

        def on_publish(c: Any, userdata: Any, mid: int, reason: ReasonCode, properties: Any) -> None:
            row = inflight.pop(mid, None)
            if row is None:  # one of aiomqtt's own publishes (retained topics, responses)
                if aiomqtt_on_publish is not None:
                    aiomqtt_on_publish(c, userdata, mid, reason, properties)
                return
            room.set()
            if reason.is_failure:
                self.stats.failed_total += 1
                self._refused = self._refused or (row, f"the broker refused it: {reason}")
                refusal.append(PublishRefusedError(f"broker refused an event: {reason}"))
                self.outbox.notify_rows()  # wake the drain if it waits for rows
                return
            self.outbox.delete(row.seq, len(row.payload) + len(row.topic))
            last_try = self.delivery.delivered(row.seq)
            if last_try is not None:  # the broker takes other events: the held-back suspect's turn
                again.append(last_try)
                self.outbox.notify_rows()
            self.stats.published_total += 1
            self.stats.published.emit(row, time.time() - row.created_at)

        paho.on_publish = on_publish
        self.delivery.session_started()
        again: list[OutboxRow] = []
        last_seq = 0
        probing: int | None = None  # a suspect row sent alone in this session
        while True:
            if refusal:
                raise refusal[0]  # the session ends and the row is sent again later
            self.outbox.clear_new_rows_flag()
            rows = await self.outbox.fetch(last_seq, FETCH_PAGE)
            if again:
                rows, again = [*again, *rows], []
            if not rows:
                await self.outbox.wait_for_rows()
            for row in rows:
                if self.delivery.holds_back(row):
                    continue
                while not refusal and (
                    len(inflight) >= limit or (inflight and self.delivery.goes_alone(row.seq, probing))
                ):
                    room.clear()
                    await room.wait()
                if refusal:
                    raise refusal[0]
                too_large = self.delivery.too_large(row.topic, len(row.payload))
                if too_large is not None:
                    await self.delivery.give_up(row, 0, too_large)
                    continue
                try:
                    info = paho.publish(row.topic, row.payload, qos=1)
                except ValueError as exc:  # e.g. a wildcard in the topic: no broker will ever take it
                    await self.delivery.give_up(row, 0, f"cannot be published: {exc}")
                    continue
                if row.seq == self.delivery.suspect:
                    probing = row.seq
                if info.rc != MQTT_ERR_SUCCESS:
                    self.stats.failed_total += 1
                    raise aiomqtt.MqttCodeError(info.rc, "could not publish")
                inflight[info.mid] = row
                if len(inflight) > self.stats.inflight_peak:
                    self.stats.inflight_peak = len(inflight)
            if rows:
                last_seq = max(last_seq, rows[-1].seq)

    # -- retained topics -------------------------------------------------------------------------

    async def _publish_retained(self, client: aiomqtt.Client) -> None:
        while True:
            await self.retained.changed.wait()
            dirty = self.retained.take_dirty()
            try:
                await asyncio.gather(
                    *(client.publish(topic, payload, qos=1, retain=True) for topic, payload in dirty.items())
                )
            except aiomqtt.MqttError:
                self.retained.restore_dirty(dirty)
                raise

    # -- requests --------------------------------------------------------------------------------

    def _request_subscription(self) -> dict[str, Any]:
        """MQTT 5: keep the retain flag as published, so that a request sent retained is seen as such
        (and refused) the first time too, not only when the broker hands it over again on a reconnect."""
        if self.settings.protocol != "5":
            return {"qos": 1}
        return {"options": SubscribeOptions(qos=1, retainAsPublished=True)}

    async def _serve_requests(self, client: aiomqtt.Client, group: asyncio.TaskGroup) -> None:
        async for message in client.messages:
            command = self.topics.command_of(str(message.topic))
            if command is None:
                echo = str(message.topic) == self.topics.state and payload_bytes(message) == ONLINE
                if echo and self._birth_echo is not None:
                    self._birth_echo.set()
                continue
            if message.retain and not message.payload:
                continue  # a requester clearing the retained request we refused: not a request
            props = message.properties
            response_topic = getattr(props, "ResponseTopic", None) if props is not None else None
            correlation = getattr(props, "CorrelationData", None) if props is not None else None
            request = Request(
                command, payload_bytes(message), response_topic, correlation, retained=bool(message.retain)
            )
            group.create_task(self._answer(client, request))

    async def _answer(self, client: aiomqtt.Client, request: Request) -> None:
        """Runs in the session's task group: whatever fails here is caught, or it would end the session
        (and delay every event) for one request."""
        try:
            answer = await self.router(request)
            await client.publish(answer.topic, answer.payload, qos=1)
            if answer.reply_topic is not None:
                properties = None
                if answer.correlation_data is not None and self.settings.protocol == "5":
                    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                    properties.CorrelationData = answer.correlation_data
                await client.publish(answer.reply_topic, answer.payload, qos=1, properties=properties)
        except Exception as exc:
            self.stats.answers_failed += 1
            self._request_log.log(
                logging.WARNING,
                type(exc).__name__,
                "the answer to request %r was not published: %r",
                request.command[:64],
                exc,
            )
