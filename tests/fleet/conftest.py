"""Fleet fixtures: per-station identities and the engines that enforce them, each private to the tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from passerelle.daemon.fleet_identity import (
    Identity,
    identities,
    mosquitto_dynsec,
    nats_authorization,
    rabbitmq_definitions,
)
from passerelle.testing.engines import NatsCluster, RabbitMq, dynsec_broker, engine_dir


@dataclass(frozen=True)
class Fleet:
    station_a: Identity
    station_b: Identity
    billing: Identity

    @property
    def members(self) -> list[Identity]:
        return [self.station_a, self.station_b, self.billing]


@dataclass(frozen=True)
class Endpoint:
    """Where a station and a consumer connect on one engine, and the protocol the engine speaks."""

    engine: str
    host: str
    station_port: int
    consumer_port: int  # another cluster node where there is one
    protocol: str  # mqtt.protocol: RabbitMQ 3.10 and NATS 2.9 speak MQTT 3.1.1 only


@pytest.fixture(scope="session")
def fleet() -> Fleet:
    station_a, station_b, billing = identities(["station-a", "station-b"], ["billing"])
    return Fleet(station_a, station_b, billing)


@pytest.fixture(scope="session")
def rabbitmq(fleet: Fleet) -> Iterator[RabbitMq]:
    """One node for the session: it takes ~12 s to boot on two cores, NATS and Mosquitto take < 1 s."""
    with engine_dir("rabbitmq") as workdir:
        definitions = workdir / "definitions.json"
        definitions.write_text(json.dumps(rabbitmq_definitions(fleet.members)))
        with RabbitMq(workdir, definitions) as node:
            yield node


@pytest.fixture
def nats_cluster(fleet: Fleet) -> Iterator[NatsCluster]:
    with (
        engine_dir("nats") as workdir,
        NatsCluster(workdir, authorization=nats_authorization(fleet.members)) as c,
    ):
        yield c


@pytest.fixture(params=["mosquitto", "nats", "rabbitmq"])
def endpoint(request: pytest.FixtureRequest, fleet: Fleet, tmp_path: Path) -> Iterator[Endpoint]:
    """Each engine in turn, with the fleet's identities enforced."""
    if request.param == "mosquitto":
        dynsec = tmp_path / "dynamic-security.json"
        dynsec.write_text(json.dumps(mosquitto_dynsec(fleet.members, Identity("admin", "admin", "consumer"))))
        with dynsec_broker(tmp_path / "mosquitto", dynsec) as broker:
            yield Endpoint("mosquitto", broker.host, broker.port, broker.port, "5")
    elif request.param == "nats":
        cluster = request.getfixturevalue("nats_cluster")
        nodes = cluster.nodes
        yield Endpoint("nats", cluster.host, nodes[0].mqtt_port, nodes[1].mqtt_port, "3.1.1")
    else:
        node = request.getfixturevalue("rabbitmq")
        yield Endpoint("rabbitmq", node.host, node.mqtt_port, node.mqtt_port, "3.1.1")
