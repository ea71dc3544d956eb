"""Connecting, server rotation, the opening subscription and requests, against the in-memory broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from passerelle.daemon.publisher import ONLINE
from passerelle.daemon.servers import Server
from passerelle.testing.memory_session import MemoryBroker
from passerelle.testing.support import wait_until

from .publisher_support import BASE, payloads, station

A, B = Server("node-a", 1883), Server("node-b", 1883)
SERVERS = {"servers": [str(A), str(B)]}


async def test_a_lost_connection_moves_on_to_the_next_server(tmp_path: Path) -> None:
    broker = MemoryBroker()
    async with station(tmp_path, broker, **SERVERS) as s:
        await wait_until(lambda: s.publisher.stats.connected, 5, "a connection")
        assert broker.current.server == A
        broker.drop()
        await wait_until(lambda: len(broker.sessions) == 2, 5, "a second session")
        assert broker.current.server == B
        assert s.publisher.stats.server == str(B)
        await s.submit(*payloads(3))
        await wait_until(lambda: s.outbox.count == 0, 5, "an empty outbox")
        assert {r.server for r in broker.received if r.payload in payloads(3)} == {B}


async def test_a_server_that_refuses_the_connection_is_skipped(tmp_path: Path) -> None:
    broker = MemoryBroker(down={A})
    async with station(tmp_path, broker, **SERVERS) as s:
        await wait_until(lambda: s.publisher.stats.connected, 5, "a connection")
        assert broker.attempts[:2] == [A, B]
        assert broker.current.server == B
        assert broker.retained[f"{BASE}/bridge/state"] == ONLINE  # the birth, retained


@pytest.fixture
def quick_opening(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("passerelle.daemon.publisher.OPENING_TIMEOUT_SECONDS", 0.05)


@pytest.mark.usefixtures("quick_opening")
async def test_a_subscription_left_unanswered_is_a_timeout_not_an_acl(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = MemoryBroker(silent={A})  # e.g. a cluster node electing its leaders
    async with station(tmp_path, broker, **SERVERS) as s:
        await wait_until(lambda: broker.attempts[-1:] == [B], 5, "a session with the other node")
        await s.submit(*payloads(2))
        await wait_until(lambda: s.outbox.count == 0, 5, "the events through the other node")
    [lost] = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"MQTT connection to {A}")]
    assert f"timeout waiting for SUBACK from {A} for {BASE}/bridge/request/+ after 0.05 s" in lost
    assert "ACL" not in lost


@pytest.mark.parametrize(
    "broker",
    [
        MemoryBroker(refused_topics={f"{BASE}/bridge/request/+"}),
        MemoryBroker(hang_up={Server("127.0.0.1", 1883)}),
    ],
    ids=["refused", "closed instead"],
)
async def test_a_refused_subscription_blames_the_acl(tmp_path: Path, broker: MemoryBroker) -> None:
    async with station(tmp_path, broker) as s:
        await wait_until(lambda: s.publisher.stats.last_error is not None, 5, "a refusal")
        error = s.publisher.stats.last_error or ""
        await s.submit(*payloads(2))
        tried = len(broker.attempts)
        await wait_until(lambda: len(broker.attempts) >= tried + 2, 5, "two more attempts")
        assert s.outbox.count == 2
    assert "does the broker's ACL grant this station" in error
    assert s.events() == []  # nothing published under a refused ACL: the events stay stored


async def test_a_request_is_answered_on_its_response_topic(tmp_path: Path) -> None:
    broker = MemoryBroker()
    async with station(tmp_path, broker) as s:
        await wait_until(lambda: s.publisher.stats.connected, 5, "a connection")
        broker.current.deliver(f"{BASE}/bridge/request/ping", b"{}")
        await wait_until(
            lambda: any(r.topic == f"{BASE}/bridge/response/ping" for r in broker.received), 5, "the answer"
        )
