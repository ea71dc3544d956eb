"""A real station daemon publishing through each engine (Mosquitto with dynamic security, a 3-node NATS
cluster's MQTT gateway, RabbitMQ's MQTT plugin) to a billing consumer: every event arrives, the retained
bridge state and the Will are what subscribers expect."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from passerelle.testing.engines import NatsCluster
from passerelle.testing.support import DaemonProcess, wait_until
from tests.fleet.conftest import Endpoint, Fleet
from tests.fleet.stations import bridge_states, consumer, station_config, synthetic_seqs

COUNT = 500


@pytest.mark.timeout(90)
async def test_events_state_and_will_through_each_engine(
    endpoint: Endpoint, fleet: Fleet, tmp_path: Path
) -> None:
    station = fleet.station_a.user
    config = station_config(endpoint, fleet.station_a, tmp_path / "state", count=COUNT)
    daemon = DaemonProcess(config, tmp_path / "daemon")
    async with consumer(endpoint, fleet.billing) as seen:
        daemon.start()
        await daemon.wait_ready()
        await seen.wait_for(lambda _: len(set(synthetic_seqs(seen, station))) >= COUNT, 30, f"{COUNT} events")
        await seen.wait_for(
            lambda _: any(m.json()["state"] == "online" for m in bridge_states(seen, station)), 10, "online"
        )
        # A crash, not a clean stop: only the broker's Will can say the station is gone.
        await daemon.kill()
        await seen.wait_for(
            lambda _: bridge_states(seen, station)[-1].json()["state"] == "offline", 15, "the Will"
        )
    assert sorted(set(synthetic_seqs(seen, station))) == list(range(COUNT))
    # A consumer arriving later learns the state from the retained message (the Will was retained).
    async with consumer(endpoint, fleet.billing, f"passerelle/{station}/bridge/state", "late") as late:
        await late.wait_for(lambda m: bool(m), 10, "the retained bridge state")
        assert late.messages[0].retain and late.messages[0].json()["state"] == "offline"


@pytest.mark.timeout(90)
async def test_nats_node_of_the_station_killed_mid_run_loses_nothing(
    nats_cluster: NatsCluster, fleet: Fleet, tmp_path: Path
) -> None:
    """Without a server list the station waits for its node; JetStream (replicas 3) keeps the rest."""
    nodes = nats_cluster.nodes
    endpoint = Endpoint("nats", nats_cluster.host, nodes[0].mqtt_port, nodes[1].mqtt_port, "3.1.1")
    station = fleet.station_a.user
    count = 1500
    config = station_config(endpoint, fleet.station_a, tmp_path / "state", count=count, rate=300)
    daemon = DaemonProcess(config, tmp_path / "daemon")
    async with consumer(endpoint, fleet.billing) as seen:
        daemon.start()
        await daemon.wait_ready()
        await seen.wait_for(lambda _: len(synthetic_seqs(seen, station)) >= 300, 20, "the run under way")
        nats_cluster.kill_node(0)
        await asyncio.sleep(2)
        # No wait for the node's health: it stays "catching up" while the station replays into it.
        nats_cluster.start_node(0)
        await seen.wait_for(lambda _: len(set(synthetic_seqs(seen, station))) >= count, 45, "every event")
        await wait_until(lambda: "MQTT connected" in daemon.log(), 1, "a log of the reconnection")
        assert await daemon.stop() == 0
    assert sorted(set(synthetic_seqs(seen, station))) == list(range(count))
