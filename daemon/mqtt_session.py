"""The broker session over aiomqtt 2 and paho: every aiomqtt and paho specific of the publisher.

Each connection attempt builds a fresh ``aiomqtt.Client`` (reusing one after a failed connect is a known
source of bugs). aiomqtt 2 leaves out four things the publisher needs, taken from the paho client
underneath (the only private accesses, each justified on its line):

- the CONNACK's Receive Maximum and Maximum Packet Size (MQTT 5), which neither reads;
- a connection lost before the CONNACK, which aiomqtt ignores until connected (the attempt would wait
  out the whole 10 s client timeout);
- the reason code of a broker's DISCONNECT, which aiomqtt's error drops;
- a publish that does not wait, with the PUBACK's reason code: aiomqtt's ``publish`` costs an Event, a
  task and a scan of every pending call per message, which caps the drain well below the broker's pace,
  and it takes an MQTT 5 PUBACK carrying an error reason code (quota, not authorized…) for a success.

aiomqtt 3 drops paho: this module is what a move to it rewrites, against its own CONNACK, disconnect
and acknowledgement API; daemon/session.py, the publisher and the tests stay as they are.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import aiomqtt
from paho.mqtt.client import MQTT_ERR_SUCCESS
from paho.mqtt.client import Client as PahoClient
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from passerelle.daemon.config import MqttSettings
from passerelle.daemon.mqtt_options import connection_options, payload_bytes, tls_context
from passerelle.daemon.servers import Server
from passerelle.daemon.session import (
    ANSWER_TIMEOUT_SECONDS,
    Acknowledged,
    BrokerLimits,
    DisconnectReason,
    IncomingMessage,
    SessionError,
    SessionFactory,
    SessionTimeoutError,
)


def aiomqtt_sessions(settings: MqttSettings, *, client_id: str, will: tuple[str, bytes]) -> SessionFactory:
    """The daemon's session factory: a fresh aiomqtt client per attempt, one TLS context for all (built
    at the first attempt that finds its certificate files)."""
    tls: list[ssl.SSLContext | None] = []

    def open_session(server: Server) -> AiomqttSession:
        if not tls or tls[0] is None:
            tls[:] = [tls_context(settings.tls)]
        return AiomqttSession(settings, server, tls[0], client_id=client_id, will=will)

    return open_session


async def _race(work: asyncio.Future[Any], ending: asyncio.Future[object], timeout: float | None) -> None:
    """Wait for ``work`` until ``ending`` completes or ``timeout`` passes; ``work`` is then cancelled
    (and so when we are)."""
    try:
        await asyncio.wait((work, ending), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not work.done():
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)


def _set_once(future: asyncio.Future[object], value: object) -> None:
    if not future.done():
        future.set_result(value)


def _reason(reason: Any) -> DisconnectReason:
    value = getattr(reason, "value", reason)
    return DisconnectReason(value if isinstance(value, int) else 0, str(reason))


class AiomqttSession:
    """One connection to one server through a fresh aiomqtt client (see daemon/session.BrokerSession)."""

    def __init__(
        self,
        settings: MqttSettings,
        server: Server,
        tls: ssl.SSLContext | None,
        *,
        client_id: str,
        will: tuple[str, bytes],
    ) -> None:
        self._settings = settings
        self._server = server
        self._tls = tls
        self._client_id = client_id
        self._will = will
        self.limits = BrokerLimits()
        self.disconnect_reason: DisconnectReason | None = None
        self._client: aiomqtt.Client | None = None
        self._paho: PahoClient | None = None
        self._closed: asyncio.Future[object] | None = None  # completes when the connection closes

    # -- connection ------------------------------------------------------------------------------

    async def __aenter__(self) -> AiomqttSession:
        s = self._settings
        v5 = s.protocol == "5"
        try:
            client = aiomqtt.Client(
                **connection_options(s, self._tls, self._server),
                identifier=self._client_id,
                will=aiomqtt.Will(self._will[0], self._will[1], qos=1, retain=True),
                clean_session=None if v5 else True,
                keepalive=s.keepalive,
                # The drain bounds event publishes itself; paho's own cap would rescan every message
                # in flight on each PUBACK. A broker's Receive Maximum still caps paho (see on_connect).
                max_inflight_messages=0,
                max_queued_outgoing_messages=None,
                timeout=ANSWER_TIMEOUT_SECONDS,
            )
        except aiomqtt.MqttError as exc:  # e.g. an unreadable mqtt.password_file
            raise SessionError(str(exc)) from exc
        # Many publishes in flight is the design, not a symptom: silence aiomqtt's warning about it.
        client.pending_calls_threshold = s.max_inflight + 10
        paho = client._client  # noqa: SLF001 - aiomqtt 2 exposes no paho handle (needed for CONNACK, DISCONNECT, PUBACK codes, non-waiting publish); aiomqtt 3 drops paho: its own API then
        self._client, self._paho = client, paho
        lost = self._hook_connection(paho)
        entering = asyncio.ensure_future(client.__aenter__())
        await _race(entering, lost, None)  # lost before CONNACK: the client is dropped
        if entering.cancelled():
            raise SessionError(f"connection lost before CONNACK: {lost.result()}")
        failure = entering.exception()
        if failure is not None:
            raise SessionError(str(failure)) from failure
        return self

    def _hook_connection(self, paho: PahoClient) -> asyncio.Future[object]:
        """Read the CONNACK's limits and each disconnection's reason; the future returned completes
        when the connection is lost before the CONNACK (paho may call from aiomqtt's connect thread)."""
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[object] = loop.create_future()
        closed = self._closed = loop.create_future()  # the same, after the CONNACK
        connack: list[bool] = []  # a refused CONNACK is the attempt's error, not the disconnection after it
        aiomqtt_on_connect = cast(Callable[..., None], paho.on_connect)
        aiomqtt_on_disconnect = cast(Callable[..., None], paho.on_disconnect)

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None) -> None:
            receive_maximum = getattr(properties, "ReceiveMaximum", None) if properties else None
            packet = getattr(properties, "MaximumPacketSize", None) if properties else None
            self.limits = BrokerLimits(receive_maximum, packet)
            connack.append(True)
            if receive_maximum is not None:
                # The Receive Maximum bounds every QoS 1 publish in flight, ours and aiomqtt's together,
                # and a strict broker disconnects a client beyond it. paho's public setter refuses once
                # connected, and the CONNACK is the first moment it is known. aiomqtt 3: its own option.
                paho._max_inflight_messages = receive_maximum  # noqa: SLF001 - paho's setter refuses once connected; aiomqtt 3: give the limit to its own flow control
            aiomqtt_on_connect(c, userdata, flags, reason, properties)

        def on_disconnect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None) -> None:
            self.disconnect_reason = _reason(reason)
            loop.call_soon_threadsafe(_set_once, closed if connack else lost, reason)
            aiomqtt_on_disconnect(c, userdata, flags, reason, properties)

        paho.on_connect, paho.on_disconnect = on_connect, on_disconnect
        return lost

    async def __aexit__(self, *exc_info: object) -> None:
        client, self._client, self._paho = self._client, None, None
        if client is None:
            return
        try:
            await client.__aexit__(None, None, None)
        except aiomqtt.MqttError as exc:
            raise SessionError(str(exc)) from exc

    def _connected_client(self) -> aiomqtt.Client:
        if self._client is None:
            raise SessionError("not connected")
        return self._client

    # -- requests and publishes ------------------------------------------------------------------

    async def subscribe(
        self, topic: str, *, qos: int, retain_as_published: bool = False, timeout: float | None = None
    ) -> list[int]:
        client = self._connected_client()
        if retain_as_published and self._settings.protocol == "5":
            options: dict[str, Any] = {"options": SubscribeOptions(qos=qos, retainAsPublished=True)}
        else:
            options = {"qos": qos}
        # aiomqtt 2 leaves a subscription waiting when the connection closes (RabbitMQ refuses one that
        # way): the close ends the wait at once, told apart from a broker that does not answer at all.
        closed = self._closed or asyncio.get_running_loop().create_future()
        asking = asyncio.ensure_future(client.subscribe(topic, **options, timeout=math.inf))
        await _race(asking, closed, ANSWER_TIMEOUT_SECONDS if timeout is None else timeout)
        if asking.cancelled():
            if closed.done():
                raise SessionError(f"the broker closed the connection instead: {closed.result()}")
            raise SessionTimeoutError("Operation timed out")  # aiomqtt's own wording
        failure = asking.exception()
        if failure is not None:
            raise SessionError(str(failure)) from failure
        granted = asking.result()
        codes = granted if isinstance(granted, list | tuple) else [granted]
        return [code.value if isinstance(code, ReasonCode) else int(code) for code in codes]

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
        client = self._connected_client()
        properties = None
        if correlation_data is not None and self._settings.protocol == "5":
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.CorrelationData = correlation_data
        try:
            await client.publish(
                topic, payload, qos=qos, retain=retain, properties=properties, timeout=timeout
            )
        except aiomqtt.MqttError as exc:
            raise SessionError(str(exc)) from exc

    def stream_events(self, acknowledged: Acknowledged) -> None:
        paho = self._paho
        if paho is None:
            raise SessionError("not connected")
        aiomqtt_on_publish = cast(Callable[..., None] | None, paho.on_publish)

        def on_publish(c: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
            refused = str(reason) if reason.is_failure else None
            if not acknowledged(mid, refused) and aiomqtt_on_publish is not None:
                aiomqtt_on_publish(c, userdata, mid, reason, properties)  # aiomqtt's own publishes

        paho.on_publish = on_publish

    def send_event(self, topic: str, payload: bytes) -> int:
        paho = self._paho
        if paho is None:
            raise SessionError("not connected")
        info = paho.publish(topic, payload, qos=1)  # ValueError for a topic no broker takes
        if info.rc != MQTT_ERR_SUCCESS:
            raise SessionError(str(aiomqtt.MqttCodeError(info.rc, "could not publish")))
        return info.mid

    async def messages(self) -> AsyncIterator[IncomingMessage]:
        client = self._connected_client()
        try:
            async for message in client.messages:
                props = message.properties
                yield IncomingMessage(
                    str(message.topic),
                    payload_bytes(message),
                    retain=bool(message.retain),
                    response_topic=getattr(props, "ResponseTopic", None) if props is not None else None,
                    correlation_data=getattr(props, "CorrelationData", None) if props is not None else None,
                )
        except aiomqtt.MqttError as exc:
            raise SessionError(str(exc)) from exc
