"""Publishes in flight stay within ``mqtt.max_inflight`` and within the broker's MQTT 5 Receive Maximum."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from passerelle.daemon.broker import PrivateBroker
from passerelle.testing.support import base_config, collect, inprocess_daemon, wait_until

EVENTS = 400


async def publish_all(broker: PrivateBroker, state: Path, **mqtt: Any) -> dict[str, Any]:
    config = base_config(
        broker.port,
        state,
        mqtt={"host": broker.host, "port": broker.port, **mqtt},
        synthetic={"devices": [{"id": "flow", "rate": 0, "count": EVENTS, "resume": False}]},
    )
    async with (
        collect(broker.host, broker.port, "passerelle/test/synthetic") as seen,
        inprocess_daemon(config) as daemon,
    ):
        await wait_until(lambda: daemon.publisher.stats.published_total >= EVENTS, 20, "publishes")
        await seen.wait_for(lambda m: len(m) >= EVENTS, 10, "every event")
        stats = daemon.publisher.stats
        assert daemon.health()["broker"]["receive_maximum"] == stats.broker_receive_maximum
        return {
            "receive_maximum": stats.broker_receive_maximum,
            "peak": stats.inflight_peak,
            "ids": {e["event_id"] for e in seen.events()},
        }


async def test_the_configured_bound_holds(broker: PrivateBroker, tmp_path: Path) -> None:
    result = await publish_all(broker, tmp_path / "state", max_inflight=7)
    assert result["receive_maximum"] is None  # the private broker sets no limit
    assert result["peak"] == 7  # a flood keeps the pipeline full, never fuller
    assert len(result["ids"]) == EVENTS


async def test_a_broker_receive_maximum_lowers_the_bound(tmp_path: Path) -> None:
    # mosquitto announces its max_inflight_messages as Receive Maximum to MQTT 5 clients.
    with PrivateBroker(extra_config=["max_inflight_messages 5"]) as broker:
        result = await publish_all(broker, tmp_path / "state", max_inflight=100)
    assert result["receive_maximum"] == 5
    assert result["peak"] == 5
    assert len(result["ids"]) == EVENTS
