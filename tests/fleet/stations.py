"""A station daemon and a billing consumer on one engine, as the fleet tests use them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt

from passerelle.daemon.fleet_identity import Identity
from passerelle.testing.support import MqttCollector, Received, base_config, collect
from tests.fleet.conftest import Endpoint


def station_config(
    endpoint: Endpoint, identity: Identity, state_dir: Path, *, station: str | None = None, **synthetic: Any
) -> dict[str, Any]:
    """``station`` defaults to the identity's own name; another one is a misconfigured station."""
    device = {"id": "counter", "rate": 0, "resume": True, **synthetic}
    return base_config(
        endpoint.station_port,
        state_dir,
        station=station or identity.user,
        mqtt={
            "host": endpoint.host,
            "port": endpoint.station_port,
            "protocol": endpoint.protocol,
            "username": identity.user,
            "password": identity.password,
            "reconnect_min_seconds": 0.1,
            "reconnect_max_seconds": 0.5,
        },
        synthetic={"devices": [device]},
    )


def protocol_of(endpoint: Endpoint) -> aiomqtt.ProtocolVersion:
    return aiomqtt.ProtocolVersion.V5 if endpoint.protocol == "5" else aiomqtt.ProtocolVersion.V311


@contextlib.asynccontextmanager
async def consumer(
    endpoint: Endpoint, identity: Identity, topic_filter: str = "passerelle/#", client_id: str = "billing-1"
) -> AsyncIterator[MqttCollector]:
    """A billing back end with a persistent session (what it misses while away is kept for it)."""
    session = {"clean_start": False} if endpoint.protocol == "5" else {"clean_session": False}
    async with collect(
        endpoint.host,
        endpoint.consumer_port,
        topic_filter,
        protocol=protocol_of(endpoint),
        identifier=client_id,
        username=identity.user,
        password=identity.password,
        **session,
    ) as seen:
        yield seen


def synthetic_seqs(seen: MqttCollector, station: str) -> list[int]:
    """Sequence numbers of the synthetic events a station published, duplicates included."""
    topic = f"passerelle/{station}/synthetic"
    return [m.json()["data"]["seq"] for m in seen.messages if m.topic == topic]


def bridge_states(seen: MqttCollector, station: str) -> list[Received]:
    return seen.on(f"passerelle/{station}/bridge/state")
