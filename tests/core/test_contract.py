"""The MQTT contract, measured on a real Mosquitto with the daemon as a real process."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from passerelle.daemon.broker import PrivateBroker
from passerelle.testing.support import DaemonProcess, base_config, collect

SYNTHETIC = {"devices": [{"id": "pattern-1", "rate": 50.0, "count": 20}]}


async def test_birth_retained_topics_events_and_clean_stop(broker: PrivateBroker, tmp_path: Path) -> None:
    config = base_config(broker.port, tmp_path / "state", synthetic=SYNTHETIC)
    daemon = DaemonProcess(config, tmp_path)
    async with collect(broker.host, broker.port, "passerelle/test/#") as seen:
        daemon.start()
        ready_seconds = await daemon.wait_ready()
        await seen.wait_for(
            lambda m: len([e for e in seen.events("passerelle.synthetic/1")]) >= 20, 15, "20 events"
        )
        events = seen.events("passerelle.synthetic/1")
        assert sorted(e["data"]["seq"] for e in events) == list(range(20))
        first = events[0]
        assert first["station"] == "test"
        assert first["device"] == {
            "id": "pattern-1",
            "family": "synthetic",
            "driver": "synthetic",
            "model": "test pattern",
        }
        assert first["occurred_at"][-6] in "+-" or first["occurred_at"].endswith("Z")
        assert all(
            m.topic == "passerelle/test/synthetic" and not m.retain
            for m in seen.on("passerelle/test/synthetic")
        )
        await seen.wait_for(
            lambda m: bool(seen.on("passerelle/test/pattern-1/availability")), 5, "availability"
        )
        assert seen.on("passerelle/test/bridge/state")[-1].json() == {"state": "online"}
        assert await daemon.stop() == 0
        await seen.wait_for(
            lambda m: seen.on("passerelle/test/bridge/state")[-1].json() == {"state": "offline"}, 5
        )
    assert ready_seconds < 5
    # A fresh subscriber sees the retained picture: bridge offline, info and inventory present.
    async with collect(broker.host, broker.port, "passerelle/test/#") as late:
        await late.wait_for(
            lambda m: (
                {
                    "passerelle/test/bridge/info",
                    "passerelle/test/bridge/devices",
                    "passerelle/test/pattern-1/availability",
                }
                <= {x.topic for x in m}
            ),
            5,
        )
        assert all(m.retain for m in late.messages)
        assert late.on("passerelle/test/bridge/state")[-1].json() == {"state": "offline"}
        info = late.on("passerelle/test/bridge/info")[-1].json()
        assert "passerelle.synthetic/1" in info["schemas"] and info["station"] == "test"
        assert "password" not in json.dumps(info)
        devices = late.on("passerelle/test/bridge/devices")[-1].json()
        assert [d["id"] for d in devices["devices"]] == ["pattern-1"]
        assert late.on("passerelle/test/pattern-1/availability")[-1].json() == {"state": "offline"}


async def test_will_is_published_when_daemon_is_killed(broker: PrivateBroker, tmp_path: Path) -> None:
    config = base_config(
        broker.port, tmp_path / "state", mqtt={"host": "127.0.0.1", "port": broker.port, "keepalive": 5}
    )
    daemon = DaemonProcess(config, tmp_path)
    async with collect(broker.host, broker.port, "passerelle/test/bridge/state") as seen:
        daemon.start()
        await daemon.wait_ready()
        await seen.wait_for(lambda m: bool(m) and m[-1].json() == {"state": "online"}, 10, "online")
        await daemon.kill()  # SIGKILL: the socket closes without DISCONNECT, so the broker sends the Will
        await seen.wait_for(lambda m: m[-1].json() == {"state": "offline"}, 10, "Will")


async def test_birth_republished_after_broker_restart(tmp_path: Path) -> None:
    broker = PrivateBroker()  # no persistence: the restart forgets every retained message
    broker.start()
    try:
        daemon = DaemonProcess(base_config(broker.port, tmp_path / "state"), tmp_path)
        daemon.start()
        await daemon.wait_ready()
        async with collect(broker.host, broker.port, "passerelle/test/bridge/#") as seen:
            await seen.wait_for(lambda m: bool(seen.on("passerelle/test/bridge/state")), 10, "birth")
        broker.restart()
        wanted = {
            "passerelle/test/bridge/state",
            "passerelle/test/bridge/info",
            "passerelle/test/bridge/devices",
        }
        retained = await retained_topics(broker, "passerelle/test/bridge/#", wanted, timeout=15)
        assert retained["passerelle/test/bridge/state"] == {"state": "online"}
        assert await daemon.stop() == 0
    finally:
        broker.close()


async def test_requests_answer_ok_and_typed_errors(broker: PrivateBroker, tmp_path: Path) -> None:
    daemon = DaemonProcess(base_config(broker.port, tmp_path / "state"), tmp_path)
    daemon.start()
    await daemon.wait_ready()
    async with collect(broker.host, broker.port, "passerelle/test/bridge/state") as state:
        await state.wait_for(lambda m: bool(m) and m[-1].json() == {"state": "online"}, 10, "bridge online")
    async with collect(broker.host, broker.port, "passerelle/test/bridge/response/#") as seen:
        async with aiomqtt.Client(broker.host, broker.port, protocol=aiomqtt.ProtocolVersion.V5) as client:
            await client.subscribe("passerelle/test/bridge/response/me/inbox", qos=1)
            await client.publish("passerelle/test/bridge/request/ping", b'{"transaction": "t-1"}', qos=1)
            await client.publish("passerelle/test/bridge/request/health", b'{"transaction": 7}', qos=1)
            await client.publish("passerelle/test/bridge/request/nope", b'{"transaction": "t-3"}', qos=1)
            await client.publish("passerelle/test/bridge/request/info", b"{not json", qos=1)
            await client.publish("passerelle/test/bridge/request/devices", b"[1, 2]", qos=1)
            await client.publish("passerelle/test/bridge/request/ping", b"x" * 70_000, qos=1)
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ResponseTopic = "passerelle/test/bridge/response/me/inbox"
            props.CorrelationData = b"corr-42"
            await client.publish(
                "passerelle/test/bridge/request/ping", b'{"transaction": "t-5"}', qos=1, properties=props
            )
            async with asyncio.timeout(10):
                async for message in client.messages:
                    assert message.topic.value == "passerelle/test/bridge/response/me/inbox"
                    assert getattr(message.properties, "CorrelationData", None) == b"corr-42"
                    body = json.loads(message.payload)
                    assert body["transaction"] == "t-5" and body["status"] == "ok"
                    break
        await seen.wait_for(lambda m: len(m) >= 7, 10, "seven responses")
    by_transaction = {json.loads(m.payload).get("transaction"): json.loads(m.payload) for m in seen.messages}
    assert by_transaction["t-1"]["status"] == "ok" and by_transaction["t-1"]["data"]["pong"] is True
    assert by_transaction[7]["data"]["status"] in ("green", "yellow")
    assert by_transaction["t-3"]["error"]["code"] == "unknown_command"
    errors = [
        json.loads(m.payload)["error"]["code"]
        for m in seen.messages
        if json.loads(m.payload)["status"] == "error"
    ]
    assert sorted(errors) == [
        "malformed_request",
        "malformed_request",
        "payload_too_large",
        "unknown_command",
    ]
    assert all(not m.retain for m in seen.messages)
    assert await daemon.stop() == 0  # still alive after all that


async def retained_topics(
    broker: PrivateBroker, topic_filter: str, wanted: set[str], timeout: float
) -> dict[str, Any]:
    """What a newly connecting subscriber gets as retained, polled until ``wanted`` is all there."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with collect(broker.host, broker.port, topic_filter) as seen:
            with contextlib.suppress(AssertionError):
                await seen.wait_for(lambda m: wanted <= {x.topic for x in m if x.retain}, 0.5)
            found = {m.topic: m.json() for m in seen.messages if m.retain}
        if wanted <= set(found) or asyncio.get_running_loop().time() > deadline:
            assert wanted <= set(found), f"retained after restart: {sorted(found)}"
            return found
