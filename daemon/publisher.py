"""MQTT publisher: drains the outbox oldest first with many QoS 1 publishes in flight, keeps retained
topics current, and answers bridge requests.

aiomqtt does not reconnect by itself: each attempt builds a fresh client (reusing one after a failed
connect is a known source of bugs) and waits with capped, jittered exponential backoff, reset only
after the connection stayed up for a while. A row leaves the outbox only after its PUBACK; a publish
that failed may still reach the broker later (paho keeps it), which is why delivery is at least once
and payloads carry event ids.
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

from daemon.backoff import Backoff
from daemon.config import MqttSettings
from daemon.events import Availability
from daemon.mqtt_options import connection_options, payload_bytes, tls_context
from daemon.outbox import Outbox, OutboxRow
from daemon.retained import RetainedStore
from daemon.topics import Topics

log = logging.getLogger(__name__)

FETCH_PAGE = 500
BIRTH_ECHO_SECONDS = 15.0  # MQTT 3.1.1: how long our own birth may take to come back before draining
STABLE_AFTER_SECONDS = 30.0  # a connection that lasted this long resets the backoff
ONLINE = Availability(state="online").model_dump_json().encode()
OFFLINE = Availability(state="offline").model_dump_json().encode()


@dataclass(frozen=True, slots=True)
class Request:
    command: str
    payload: bytes
    response_topic: str | None  # MQTT 5 Response Topic, when the requester set one
    correlation_data: bytes | None


# Answers a request with the response payload (never raises for bad input).
RequestRouter = Callable[[Request], Awaitable[bytes]]


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
        # Called with each acknowledged row and the seconds since its driver handed it over.
        self.on_published: Callable[[OutboxRow, float], None] | None = None


class Publisher:
    def __init__(
        self,
        settings: MqttSettings,
        *,
        client_id: str,
        topics: Topics,
        outbox: Outbox,
        retained: RetainedStore,
        router: RequestRouter,
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
            if time.monotonic() - started > STABLE_AFTER_SECONDS:
                self._backoff.reset()
            await asyncio.sleep(self._backoff.next_delay())

    def _connection_lost(self, error: str) -> None:
        self.stats.last_error = error
        level = logging.WARNING if self._backoff.attempt == 0 else logging.DEBUG
        log.log(
            level,
            "MQTT connection to %s:%d lost or refused: %s",
            self.settings.host,
            self.settings.port,
            error,
        )

    def _tls_context(self) -> ssl.SSLContext | None:
        """Built once (certificate files are read at the first attempt that finds them)."""
        if self._tls is None:
            self._tls = tls_context(self.settings.tls)
        return self._tls

    def _make_client(self) -> aiomqtt.Client:
        s = self.settings
        v5 = s.protocol == "5"
        client = aiomqtt.Client(
            **connection_options(s, self._tls_context()),
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

    @staticmethod
    def _fail_fast_before_connack(client: aiomqtt.Client) -> None:
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
            self.stats.connects_total += 1
            log.info("MQTT connected to %s:%d", self.settings.host, self.settings.port)
            # Subscribe first, so that "online" also means "listening to requests". A refusal is how an
            # ACL that does not match this station shows on every engine (a MQTT 3.1.1 broker may
            # acknowledge a refused publish and drop it): stop before publishing anything.
            hint = (
                "does the broker's ACL grant this station (mqtt.username) its base topic? events stay stored"
            )
            try:
                granted = await client.subscribe(self.topics.requests, qos=1)
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
                await client.subscribe(self.topics.state, qos=1)
                self._birth_echo = asyncio.Event()
            await client.publish(self.topics.state, ONLINE, qos=1, retain=True)  # birth, on every connect
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
                refusal.append(PublishRefusedError(f"broker refused an event: {reason}"))
                self.outbox.notify_rows()  # wake the drain if it waits for rows
                return
            self.outbox.delete(row.seq, len(row.payload) + len(row.topic))
            self.stats.published_total += 1
            if self.stats.on_published is not None:
                self.stats.on_published(row, time.time() - row.created_at)

        paho.on_publish = on_publish
        last_seq = 0
        while True:
            if refusal:
                raise refusal[0]  # the session ends and the row is sent again later
            self.outbox.clear_new_rows_flag()
            rows = await self.outbox.fetch(last_seq, FETCH_PAGE)
            if not rows:
                await self.outbox.wait_for_rows()
            for row in rows:
                while len(inflight) >= limit and not refusal:
                    room.clear()
                    await room.wait()
                if refusal:
                    raise refusal[0]
                info = paho.publish(row.topic, row.payload, qos=1)
                if info.rc != MQTT_ERR_SUCCESS:
                    self.stats.failed_total += 1
                    raise aiomqtt.MqttCodeError(info.rc, "could not publish")
                inflight[info.mid] = row
                if len(inflight) > self.stats.inflight_peak:
                    self.stats.inflight_peak = len(inflight)
            if rows:
                last_seq = rows[-1].seq

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

    async def _serve_requests(self, client: aiomqtt.Client, group: asyncio.TaskGroup) -> None:
        async for message in client.messages:
            command = self.topics.command_of(str(message.topic))
            if command is None:
                echo = str(message.topic) == self.topics.state and payload_bytes(message) == ONLINE
                if echo and self._birth_echo is not None:
                    self._birth_echo.set()
                continue
            props = message.properties
            response_topic = getattr(props, "ResponseTopic", None) if props is not None else None
            correlation = getattr(props, "CorrelationData", None) if props is not None else None
            request = Request(command, payload_bytes(message), response_topic, correlation)
            group.create_task(self._answer(client, request))

    async def _answer(self, client: aiomqtt.Client, request: Request) -> None:
        response = await self.router(request)
        await client.publish(self.topics.response(request.command), response, qos=1)
        if request.response_topic:
            properties = None
            if request.correlation_data is not None and self.settings.protocol == "5":
                properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                properties.CorrelationData = request.correlation_data
            await client.publish(request.response_topic, response, qos=1, properties=properties)
