"""Hostile bridge requests, sent by a real MQTT 5 client through a real broker.

Each shape names the error code the daemon must answer with on ``bridge/response/<command>``; the
shapes come from what a careless or malicious requester can put in a PUBLISH: payload bytes, the
retain flag, and the MQTT 5 Response Topic and Correlation Data properties.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

BASE = "passerelle/test"
REQUEST = f"{BASE}/bridge/request"
RESPONSE = f"{BASE}/bridge/response"
MQTT_TOPIC_MAX = 65535  # a topic's length field is two bytes


@dataclass(frozen=True)
class Hostile:
    name: str
    payload: bytes
    expected_code: str | None  # None: the broker itself turns the request away
    command: str = "ping"
    response_topic: str | None = None
    correlation_data: bytes | None = None
    retain: bool = False

    @property
    def answer_topic(self) -> str:
        """Where the daemon answers (its default response topic; the fallback for unroutable ones)."""
        topic = f"{RESPONSE}/{self.command}"
        return topic if len(topic.encode()) <= MQTT_TOPIC_MAX else f"{RESPONSE}/invalid-command"

    async def send(self, host: str, port: int) -> bool:
        """False when the broker did not acknowledge the request."""
        properties = None
        if self.response_topic is not None or self.correlation_data is not None:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            if self.response_topic is not None:
                properties.ResponseTopic = self.response_topic
            if self.correlation_data is not None:
                properties.CorrelationData = self.correlation_data
        return await send_request(host, port, self.command, self.payload, self.retain, properties)


async def send_request(
    host: str, port: int, command: str, payload: bytes, retain: bool = False, properties: Any = None
) -> bool:
    """One connection per request: a broker that turns a request away must not end the test.
    False when the broker did not acknowledge the request."""
    try:
        async with aiomqtt.Client(host, port, protocol=aiomqtt.ProtocolVersion.V5) as client:
            await client.publish(
                f"{REQUEST}/{command}", payload, qos=1, retain=retain, properties=properties, timeout=5
            )
    except aiomqtt.MqttError:
        return False
    return True


def _nested(depth: int) -> bytes:
    return b'{"transaction": ' + b"[" * depth + b"]" * depth + b"}"


def _reply_to(name: str, topic: str) -> Hostile:
    return Hostile(name, b'{"transaction": "t"}', "forbidden_response_topic", response_topic=topic)


def hostile_requests() -> list[Hostile]:
    ping = b'{"transaction": "t"}'
    long_command = "c" * (MQTT_TOPIC_MAX - len(f"{REQUEST}/".encode()))  # its answer topic is 1 too long
    return [
        Hostile("lone surrogate", b'{"transaction": "\\ud800"}', "malformed_request"),
        Hostile("lone surrogate in a key", b'{"\\udfff": 1}', "malformed_request"),
        Hostile("nesting 100000 levels", b"[" * 100_000 + b"]" * 100_000, "payload_too_large"),
        Hostile("nesting 30000 levels", _nested(30_000), "malformed_request"),
        Hostile("nesting 500 levels", _nested(500), "malformed_request"),
        Hostile("5000-digit integer", b'{"transaction": ' + b"9" * 5000 + b"}", "malformed_request"),
        Hostile("60000-digit integer", b'{"n": -' + b"1" * 60_000 + b"}", "malformed_request"),
        Hostile("float overflow", b'{"transaction": 1e999999}', "malformed_request"),
        Hostile("NaN", b'{"transaction": NaN}', "malformed_request"),
        Hostile("not UTF-8", b'{"transaction": "\xff\xfe\xc0"}', "malformed_request"),
        Hostile("UTF-16", '{"transaction": "t"}'.encode("utf-16"), "malformed_request"),
        Hostile("1 MB payload", b"{" + b" " * 1_000_000 + b"}", "payload_too_large"),
        _reply_to("wildcard # response topic", f"{RESPONSE}/#"),
        _reply_to("wildcard + response topic", f"{RESPONSE}/+/x"),
        _reply_to("own event topic", f"{BASE}/synthetic"),
        _reply_to("own state topic", f"{BASE}/bridge/state"),
        _reply_to("another station", "passerelle/other/bridge/response/ping"),
        _reply_to("foreign topic", "elsewhere/inbox"),
        _reply_to("$SYS topic", "$SYS/broker/x"),
        _reply_to("prefix without a level", f"{RESPONSE}/"),
        _reply_to("sibling of the subtree", f"{RESPONSE}x/ping"),
        # MQTT forbids U+0000 in strings: Mosquitto disconnects the sender instead of routing it.
        Hostile("NUL in response topic", ping, None, response_topic=f"{RESPONSE}/a\0b"),
        Hostile(
            "huge correlation data",
            ping,
            "correlation_data_too_large",
            response_topic=f"{RESPONSE}/me",
            correlation_data=b"c" * 65_535,
        ),
        Hostile("retained request", b'{"transaction": "r"}', "retained_request", retain=True),
        Hostile("topic of 65535 bytes", ping, "unknown_command", command=long_command),
        Hostile("empty command level", ping, "unknown_command", command=""),
    ]
