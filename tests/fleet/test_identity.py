"""Per-station identities on each engine (daemon/fleet_identity.py): a station is confined to
``passerelle/<station>/#``, a consumer only reads, and a station given the wrong identity says so and
keeps its events until it gets the right one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from pathlib import Path

import aiomqtt
import pytest
from paho.mqtt.reasoncodes import ReasonCode

from passerelle.daemon.fleet_identity import Identity, mosquitto_dynsec
from passerelle.testing.engines import NatsCluster, dynsec_broker
from passerelle.testing.support import DaemonProcess, MqttCollector, wait_until
from tests.fleet.conftest import Endpoint, Fleet
from tests.fleet.stations import consumer, protocol_of, station_config, synthetic_seqs

ACL_HINT = "does the broker's ACL grant this station"


def client(endpoint: Endpoint, identity: Identity, client_id: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        endpoint.host,
        endpoint.station_port,
        protocol=protocol_of(endpoint),
        identifier=client_id,
        username=identity.user,
        password=identity.password,
        timeout=5,
    )


async def try_publish(endpoint: Endpoint, identity: Identity, topic: str, payload: bytes) -> None:
    """Publish once; whatever the engine does with a refusal (MQTT 5 reason code, a silent drop, a
    closed connection) is fine here: what counts is what the consumer receives."""
    with contextlib.suppress(aiomqtt.MqttError):
        async with client(endpoint, identity, f"{identity.user}-probe") as probe:
            await probe.publish(topic, payload, qos=1, timeout=5)


def refused(code: int | ReasonCode) -> bool:
    """A SUBACK refusal: an MQTT 5 failure reason code, or 0x80 under MQTT 3.1.1."""
    return code.is_failure if isinstance(code, ReasonCode) else code >= 0x80


def payloads(seen: MqttCollector) -> set[bytes]:
    return {m.payload for m in seen.messages}


@pytest.mark.timeout(60)
async def test_a_station_cannot_publish_as_another_or_read_its_cards(
    endpoint: Endpoint, fleet: Fleet
) -> None:
    a, b = fleet.station_a, fleet.station_b
    card_b = f"passerelle/{b.user}/card"
    eavesdropped: list[aiomqtt.Message] = []
    async with consumer(endpoint, fleet.billing, client_id="billing-acl") as seen:
        spy = client(endpoint, a, "eavesdropper")
        async with spy:
            try:
                granted = await spy.subscribe(f"passerelle/{b.user}/#", qos=1)
            except aiomqtt.MqttError:
                granted = None  # RabbitMQ refuses by closing the connection instead of a SUBACK
            if granted is not None:
                assert any(refused(g) for g in granted), f"{endpoint.engine} let A subscribe to B: {granted}"
            listening = asyncio.create_task(spy_on(spy, eavesdropped))
            await try_publish(endpoint, b, card_b, b"b's own card")
            await seen.wait_for(lambda _: b"b's own card" in payloads(seen), 10, "B's card at the consumer")
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
        await try_publish(endpoint, a, card_b, b"a posing as b")
        await try_publish(endpoint, fleet.billing, f"passerelle/{a.user}/synthetic", b"consumer posing as a")
        await try_publish(endpoint, a, f"passerelle/{a.user}/card", b"a's own card")  # a marker, sent last
        await seen.wait_for(lambda _: b"a's own card" in payloads(seen), 10, "A's own card at the consumer")
    assert b"b's own card" in payloads(seen)
    assert not payloads(seen) & {b"a posing as b", b"consumer posing as a"}
    assert eavesdropped == []


async def spy_on(spy: aiomqtt.Client, into: list[aiomqtt.Message]) -> None:
    with contextlib.suppress(aiomqtt.MqttError):  # a connection the engine closed reads nothing
        async for message in spy.messages:
            into.append(message)


async def refused_then_right(
    endpoint: Endpoint, fleet: Fleet, station: Identity, given: Identity, expected_log: str, tmp_path: Path
) -> None:
    """``station``'s daemon started with the ``given`` identity logs ``expected_log`` and publishes
    nothing; restarted with its own identity, every event it stored meanwhile arrives."""
    count = 50
    state = tmp_path / "state"
    async with consumer(endpoint, fleet.billing, client_id=f"billing-{given.user}") as seen:
        wrong = DaemonProcess(
            station_config(endpoint, given, state, station=station.user, count=count), tmp_path / "wrong"
        )
        wrong.start()
        await wrong.wait_ready()  # READY even though refused: the events are stored meanwhile
        await wait_until(lambda: expected_log in wrong.log(), 40, "the refusal in the log", interval=0.2)
        assert await wrong.stop() == 0
        assert synthetic_seqs(seen, station.user) == []
        assert given.password not in wrong.log()
        right = DaemonProcess(station_config(endpoint, station, state, count=count), tmp_path / "right")
        right.start()
        await seen.wait_for(lambda _: len(set(synthetic_seqs(seen, station.user))) >= count, 30, "all events")
        assert await right.stop() == 0
    assert sorted(set(synthetic_seqs(seen, station.user))) == list(range(count))


@pytest.mark.timeout(90)
async def test_wrong_identity_is_reported_and_nothing_is_lost(
    endpoint: Endpoint, fleet: Fleet, tmp_path: Path
) -> None:
    """Station B's daemon configured with station A's credentials: it is told, and publishes nothing
    (a MQTT 3.1.1 engine may acknowledge a refused publish and drop it, so it must not try)."""
    await refused_then_right(endpoint, fleet, fleet.station_b, fleet.station_a, ACL_HINT, tmp_path)


@pytest.mark.timeout(60)
async def test_refused_password_is_reported(endpoint: Endpoint, fleet: Fleet, tmp_path: Path) -> None:
    impostor = Identity(fleet.station_a.user, "not-the-password", "station")
    daemon = DaemonProcess(station_config(endpoint, impostor, tmp_path / "state", count=5), tmp_path / "d")
    daemon.start()
    await daemon.wait_ready()
    await wait_until(lambda: "lost or refused" in daemon.log(), 20, "the refusal in the log", interval=0.2)
    assert "not-the-password" not in daemon.log()
    assert await daemon.stop() == 0


@pytest.mark.timeout(60)
async def test_mosquitto_station_added_at_run_time_as_docs_fleet_says(fleet: Fleet, tmp_path: Path) -> None:
    """The mosquitto_ctrl steps of docs/fleet.md, against the generated file's administrator."""
    admin = Identity("fleet-admin", "admin-secret", "consumer")
    dynsec = tmp_path / "dynamic-security.json"
    dynsec.write_text(json.dumps(mosquitto_dynsec(fleet.members, admin)))
    with dynsec_broker(tmp_path / "mosquitto", dynsec) as broker:
        ctrl = [
            "mosquitto_ctrl",
            "-h",
            broker.host,
            "-p",
            str(broker.port),
            "-u",
            admin.user,
            "-P",
            admin.password,
        ]
        steps = [["createClient", "counter-3", "-p", "counter-3-secret"], ["createRole", "station-counter-3"]]
        steps += [
            ["addRoleACL", "station-counter-3", kind, "passerelle/counter-3/#", "allow"]
            for kind in (
                "publishClientSend",
                "subscribePattern",
                "publishClientReceive",
                "unsubscribePattern",
            )
        ]
        steps.append(["addClientRole", "counter-3", "station-counter-3"])
        for step in steps:
            done = await asyncio.to_thread(
                subprocess.run, [*ctrl, "dynsec", *step], capture_output=True, timeout=15
            )
            assert done.returncode == 0, done.stderr
        endpoint = Endpoint("mosquitto", broker.host, broker.port, broker.port, "5")
        newcomer = Identity("counter-3", "counter-3-secret", "station")
        async with client(endpoint, newcomer, "counter-3") as station:
            own = await station.subscribe("passerelle/counter-3/#", qos=1)
            other = await station.subscribe(f"passerelle/{fleet.station_a.user}/#", qos=1)
        assert not refused(own[0]) and refused(other[0])


@pytest.mark.timeout(60)
async def test_nats_station_cannot_read_the_gateways_delivery_subjects(
    nats_cluster: NatsCluster, fleet: Fleet
) -> None:
    """Stations are granted "$MQTT.sub.>" (2.9's gateway needs it for their own QoS 1 subscriptions):
    through MQTT that must not become a way to read what the gateway delivers to a consumer."""
    nodes = nats_cluster.nodes
    endpoint = Endpoint("nats", nats_cluster.host, nodes[0].mqtt_port, nodes[0].mqtt_port, "3.1.1")
    eavesdropped: list[aiomqtt.Message] = []
    async with (
        consumer(endpoint, fleet.billing, client_id="billing-internals") as seen,
        client(endpoint, fleet.station_a, "internals-spy") as spy,
    ):
        granted = [*await spy.subscribe("$MQTT/sub/#", qos=1), *await spy.subscribe("$MQTT/#", qos=0)]
        assert all(refused(g) for g in granted), granted
        listening = asyncio.create_task(spy_on(spy, eavesdropped))
        await try_publish(endpoint, fleet.station_b, f"passerelle/{fleet.station_b.user}/card", b"b's card")
        await seen.wait_for(lambda _: b"b's card" in payloads(seen), 10, "B's card at the consumer")
        await asyncio.sleep(0.5)  # a leak, if any, arrives with the consumer's copy
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
    assert eavesdropped == []


@pytest.mark.timeout(90)
async def test_station_with_the_consumers_read_only_identity_loses_nothing(
    endpoint: Endpoint, fleet: Fleet, tmp_path: Path
) -> None:
    """The consumer's identity may subscribe under the station's base but not publish: NATS 2.9
    acknowledges such publishes under MQTT 3.1.1 and drops them, so the station must notice first."""
    await refused_then_right(endpoint, fleet, fleet.station_a, fleet.billing, "lost or refused", tmp_path)
