"""mqtt.servers: two real Mosquittos on loopback, one killed mid-stream; the station fails over to the
other within seconds, and back again when that one dies in turn. Nothing is lost on the way."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from passerelle.daemon.broker import PrivateBroker
from passerelle.daemon.publisher import OPENING_TIMEOUT_SECONDS
from passerelle.testing.support import MqttCollector, base_config, collect, inprocess_daemon

FAILOVER_TARGET_SECONDS = 5.0
EVENTS = 800
TOPIC = "passerelle/test/synthetic"


def kill_broker(broker: PrivateBroker) -> float:
    """SIGKILL, as a node dies: no clean disconnect. Returns the monotonic time of death."""
    assert broker.process is not None
    broker.process.kill()
    broker.process.wait(5)
    died = time.monotonic()
    broker.stop()  # forget the dead process so that start() launches a new one on the same port
    return died


def seqs(collectors: list[MqttCollector]) -> list[int]:
    return [e["data"]["seq"] for c in collectors for e in c.events("passerelle.synthetic/1")]


def first_event_after(collector: MqttCollector, moment: float) -> float | None:
    times = [m.received_at for m in collector.on(TOPIC) if m.received_at > moment]
    return min(times) if times else None


@contextlib.asynccontextmanager
async def watching(broker: PrivateBroker) -> AsyncIterator[MqttCollector]:
    async with collect(broker.host, broker.port, TOPIC) as seen:
        yield seen


async def test_failover_to_the_next_server_and_back_loses_nothing(tmp_path: Path) -> None:
    with PrivateBroker() as first, PrivateBroker() as second:
        servers = [f"127.0.0.1:{first.port}", f"localhost:{second.port}"]
        config = base_config(
            first.port,
            tmp_path / "state",
            mqtt={"servers": servers},  # the default reconnection delays: the failover time as shipped
            synthetic={"devices": [{"id": "stream", "rate": 100, "count": EVENTS, "resume": True}]},
        )
        async with (
            watching(first) as on_first,
            watching(second) as on_second,
            inprocess_daemon(config) as daemon,
        ):
            await on_first.wait_for(lambda m: len(m) >= 150, 15, "events through the first server")
            assert daemon.health()["broker"]["server"] == servers[0]

            first_death = kill_broker(first)
            await on_second.wait_for(lambda m: bool(m), 10, "events through the second server")
            first_failover = first_event_after(on_second, first_death)
            assert first_failover is not None
            assert daemon.health()["broker"]["server"] == servers[1]

            # Rotation back: the first node returns, then the second dies.
            first.start()
            async with watching(first) as on_first_again:
                await on_second.wait_for(lambda m: len(m) >= 150, 15, "a stretch on the second server")
                second_death = kill_broker(second)
                await on_first_again.wait_for(lambda m: bool(m), 10, "events back on the first server")
                back = first_event_after(on_first_again, second_death)
                assert back is not None
                await on_first_again.wait_for(
                    lambda _: set(seqs([on_first, on_second, on_first_again])) >= set(range(EVENTS)),
                    60,
                    "every event received",
                )
                collectors = [on_first, on_second, on_first_again]
            health = daemon.health()
        assert health["broker"]["server"] == servers[0]
        assert health["broker"]["connects"] == 3

    received = seqs(collectors)
    assert set(received) == set(range(EVENTS))  # 0 lost
    ids: dict[str, bytes] = {}
    for collector in collectors:
        for message in collector.on(TOPIC):
            event_id = message.json()["event_id"]
            # A redelivery after failover repeats the same event (same id, same bytes), never another.
            assert ids.setdefault(event_id, message.payload) == message.payload
    assert len(ids) == EVENTS
    failovers = [first_failover - first_death, back - second_death]
    print(f"failover seconds: {failovers[0]:.3f}, {failovers[1]:.3f}; redelivered: {len(received) - EVENTS}")
    assert max(failovers) <= FAILOVER_TARGET_SECONDS


@contextlib.asynccontextmanager
async def accepting_then_silent() -> AsyncIterator[int]:
    """A server that accepts the MQTT connection (CONNACK) and then answers nothing, as a NATS node
    whose JetStream lost its leaders holds a SUBSCRIBE or a publish. Yields its port."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await reader.read(1024)  # the CONNECT
            writer.write(bytes([0x20, 0x03, 0x00, 0x00, 0x00]))  # MQTT 5 CONNACK, accepted
            await writer.drain()
            while await reader.read(1024):
                pass  # SUBSCRIBE, PUBLISH, PINGREQ: never answered
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_a_server_that_accepts_then_holds_the_opening_requests_is_left_quickly(tmp_path: Path) -> None:
    """Not aiomqtt's 10 s: the subscriptions and birth of a new session get OPENING_TIMEOUT_SECONDS
    when there is another server to try."""
    async with accepting_then_silent() as silent_port:
        with PrivateBroker() as good:
            config = base_config(
                good.port,
                tmp_path / "state",
                mqtt={"servers": [f"127.0.0.1:{silent_port}", f"127.0.0.1:{good.port}"]},
                synthetic={"devices": [{"id": "stream", "rate": 50, "count": 100, "resume": True}]},
            )
            async with watching(good) as seen:
                started = time.monotonic()
                async with inprocess_daemon(config) as daemon:
                    await seen.wait_for(lambda m: bool(m), 15, "events through the second server")
                    first = time.monotonic() - started
                    health = daemon.health()["broker"]
                    assert health["server"] == f"127.0.0.1:{good.port}"
                    assert "timed out" in str(health["last_error"] or "") or first >= OPENING_TIMEOUT_SECONDS
    print(f"first event through the second server after {first:.2f} s")
    assert OPENING_TIMEOUT_SECONDS <= first < OPENING_TIMEOUT_SECONDS + 3 < 10
