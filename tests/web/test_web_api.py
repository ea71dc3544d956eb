"""The WebSocket contract: retained state first, then events as committed, requests answered to their
client only, and every frame exactly what MQTT carries."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from passerelle.daemon.broker import PrivateBroker
from passerelle.testing.support import base_config, collect, inprocess_daemon, to_toml
from tests.web.helpers import (
    api_url,
    client,
    free_port,
    listening_addresses,
    run_cli,
    synthetic_seqs,
    web_config,
    web_daemon,
)


async def test_first_the_retained_state_then_events_identical_to_mqtt(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    port = free_port()
    config = web_config(broker.port, tmp_path, port, synthetic={"devices": [{"id": "syn", "rate": 50}]})
    async with (
        collect(broker.host, broker.port, "passerelle/test/#") as mqtt,
        web_daemon(config),
        client(api_url(port)) as frames,
    ):
        await frames.wait_for(lambda items: len([f for f in items if f["topic"] == "synthetic"]) >= 5)
        topics = [f["topic"] for f in frames.items]
        assert topics[0] == "bridge/state" and frames.items[0]["payload"] == {"state": "online"}
        first_event = topics.index("synthetic")
        for retained in ("bridge/info", "bridge/devices", "bridge/health", "syn/availability"):
            assert retained in topics[:first_event], f"{retained} not sent before the events"
        event = frames.topic("synthetic")[0]
        await mqtt.wait_for_event("passerelle.synthetic/1", lambda e: e["event_id"] == event["event_id"])
        published = [json.loads(m.payload) for m in mqtt.on("passerelle/test/synthetic")]
        assert event in published
        seqs = synthetic_seqs(frames)
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_events_reach_browsers_while_the_broker_is_unreachable(tmp_path: Path) -> None:
    port = free_port()
    config = web_config(free_port(), tmp_path, port, synthetic={"devices": [{"id": "syn", "rate": 50}]})
    async with web_daemon(config) as daemon, client(api_url(port)) as frames:
        await frames.wait_for(lambda items: len([f for f in items if f["topic"] == "synthetic"]) >= 5)
        assert not daemon.publisher.stats.connected
        assert daemon.outbox.count >= 5  # stored, not yet acknowledged by any broker


async def test_a_request_is_answered_to_its_client_only(broker: PrivateBroker, tmp_path: Path) -> None:
    port = free_port()
    async with (
        web_daemon(web_config(broker.port, tmp_path, port)),
        client(api_url(port)) as asker,
        client(api_url(port)) as other,
    ):
        await asker.connection.send(
            json.dumps({"topic": "bridge/request/ping", "payload": {"transaction": "t-42"}})
        )
        await asker.connection.send(json.dumps({"topic": "bridge/request/nope", "payload": {}}))
        await asker.wait_for(lambda _: len(asker.topic("bridge/response/nope")) == 1)
        await asker.wait_for(lambda _: len(asker.topic("bridge/response/ping")) == 1)
        answer = asker.topic("bridge/response/ping")[0]
        assert answer["status"] == "ok" and answer["transaction"] == "t-42" and answer["data"]["pong"] is True
        assert asker.topic("bridge/response/nope")[0]["error"]["code"] == "unknown_command"
        await other.connection.send(json.dumps({"topic": "bridge/request/ping", "payload": {}}))
        await other.wait_for(lambda _: len(other.topic("bridge/response/ping")) == 1)
        assert len(asker.topic("bridge/response/ping")) == 1  # the other's answer did not come here
        assert not [f for f in other.items if f["topic"] == "bridge/response/nope"]


async def test_a_malformed_frame_costs_only_an_error_frame(broker: PrivateBroker, tmp_path: Path) -> None:
    port = free_port()
    async with web_daemon(web_config(broker.port, tmp_path, port)), client(api_url(port)) as frames:
        await frames.connection.send("not json")
        await frames.connection.send(json.dumps({"topic": "scan", "payload": {}}))
        await frames.wait_for(lambda _: len(frames.topic("bridge/error")) == 2)
        codes = [p["error"]["code"] for p in frames.topic("bridge/error")]
        assert codes == ["malformed_frame", "unknown_topic"]
        await frames.connection.send(json.dumps({"topic": "bridge/request/ping", "payload": {}}))
        await frames.wait_for(lambda _: len(frames.topic("bridge/response/ping")) == 1)


async def test_two_clients_get_every_event(broker: PrivateBroker, tmp_path: Path) -> None:
    port = free_port()
    config = web_config(broker.port, tmp_path, port, synthetic={"devices": [{"id": "syn", "rate": 200}]})
    async with web_daemon(config), client(api_url(port)) as one, client(api_url(port)) as two:
        await one.wait_for(lambda _: len(synthetic_seqs(one)) >= 100)
        last = synthetic_seqs(one)[99]
        await two.wait_for(lambda _: last in synthetic_seqs(two))
        shared = [s for s in synthetic_seqs(two) if s <= last]
        assert shared == list(range(shared[0], last + 1))
        assert [s for s in synthetic_seqs(one) if s >= shared[0]][: len(shared)] == shared


async def test_token_generated_at_first_start_with_mode_0600_and_printed_by_web_url(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    port = free_port()
    config = base_config(broker.port, tmp_path, web={"enabled": True, "port": port})
    async with inprocess_daemon(config):
        token_file = tmp_path / "web-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 32
        async with client(api_url(port, token=token)) as frames:
            await frames.wait_for(lambda items: bool(items))
    config_file = tmp_path / "config.toml"
    config_file.write_text(to_toml(config))
    printed = run_cli("web", "url", "--config", str(config_file))
    assert printed == f"http://127.0.0.1:{port}/?token={token}"
    async with inprocess_daemon(config):  # a restart keeps the same token
        assert (tmp_path / "web-token").read_text().strip() == token


async def test_listening_socket_is_bound_to_loopback(broker: PrivateBroker, tmp_path: Path) -> None:
    port = free_port()
    async with web_daemon(web_config(broker.port, tmp_path, port)):
        assert listening_addresses(port) == ["0100007F:" + f"{port:04X}"]  # 127.0.0.1 only
