"""Supervision and broker outages, with the real daemon in-process and a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from passerelle.daemon.broker import PrivateBroker, free_port
from passerelle.daemon.driver import (
    DeviceChange,
    DeviceInfo,
    Driver,
    DriverContext,
    DriverEvent,
    DriverItem,
)
from passerelle.daemon.family import EventDeclaration, Family, FamilyBase, FamilySection, load_families
from passerelle.testing.support import DaemonProcess, base_config, collect, inprocess_daemon, wait_until
from tests.core.family_support import PlainDriver


class Tick(BaseModel):
    n: int


class FlakySection(FamilySection):
    fail_times: int = 0
    fail_on_start: bool = False
    devices: list[str] = Field(default_factory=lambda: ["flaky-1"])


class FlakyDriver(PlainDriver):
    """Emits one event, then crashes ``fail_times`` times before running steadily."""

    failures = 0

    def __init__(self, device_id: str, section: FlakySection) -> None:
        self.device = DeviceInfo(id=device_id, family="flaky", driver="flaky")
        self.section = section
        self.starts = 0

    @property
    def name(self) -> str:
        return f"flaky/{self.device.id}"

    async def start(self) -> None:
        self.starts += 1
        if self.section.fail_on_start:
            raise OSError("device node missing")

    async def events(self) -> AsyncIterator[DriverItem]:
        yield DeviceChange(self.device)
        yield DriverEvent(device=self.device, schema="test.tick/1", data=Tick(n=self.starts))
        if FlakyDriver.failures < self.section.fail_times:
            FlakyDriver.failures += 1
            raise RuntimeError("simulated driver crash")
        while True:
            await asyncio.sleep(3600)
            yield DriverEvent(device=self.device, schema="test.tick/1", data=Tick(n=-1))


class FlakyFamily(FamilyBase):
    name = "flaky"
    section_model = FlakySection
    events = (EventDeclaration("test.tick/1", Tick, "tick", "a test tick"),)

    def create_drivers(self, section: FamilySection, context: DriverContext) -> Sequence[Driver]:
        assert isinstance(section, FlakySection)
        return [FlakyDriver(d, section) for d in section.devices]


def with_flaky() -> dict[str, Family]:
    families, _ = load_families()
    families["flaky"] = FlakyFamily()
    return families


async def test_a_crashing_driver_is_restarted_and_never_stops_another(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    FlakyDriver.failures = 0
    config = base_config(
        broker.port,
        tmp_path / "state",
        flaky={"fail_times": 2},
        synthetic={"devices": [{"id": "steady", "rate": 50}]},
    )
    async with (
        collect(broker.host, broker.port, "passerelle/test/#") as seen,
        inprocess_daemon(config, with_flaky()) as daemon,
    ):
        # Backoff is 0.5-1 s then 1-2 s: three runs of the flaky driver within a few seconds.
        await seen.wait_for(lambda m: len(seen.events("test.tick/1")) >= 3, 15, "three ticks")
        status = daemon.supervisor.status["flaky/flaky-1"]
        assert status.restarts == 2
        assert status.state == "running"
        assert "simulated driver crash" in (status.last_error or "")
        steady = seen.events("passerelle.synthetic/1")
        assert len(steady) >= 20  # the other driver kept going throughout
        seqs = [e["data"]["seq"] for e in steady]
        assert seqs == sorted(seqs)


async def test_driver_that_cannot_start_shows_in_health(broker: PrivateBroker, tmp_path: Path) -> None:
    config = base_config(broker.port, tmp_path / "state", flaky={"fail_on_start": True})
    async with inprocess_daemon(config, with_flaky()) as daemon:
        await wait_until(lambda: daemon.supervisor.status["flaky/flaky-1"].state == "backoff", 5, "backoff")
        health = daemon.health()
        assert health["status"] == "yellow"
        assert any("device node missing" in p for p in health["problems"])


async def test_ready_and_storing_while_the_broker_is_down(tmp_path: Path) -> None:
    broker = PrivateBroker(persistence=True, workdir=tmp_path / "mq")
    (tmp_path / "mq").mkdir()
    # A consumer with a persistent session subscribes once, then the broker goes away.
    broker.start()
    async with collect(
        broker.host, broker.port, "passerelle/test/synthetic", identifier="billing", clean_session=False
    ):
        pass
    broker.stop()
    config = base_config(
        broker.port, tmp_path / "state", synthetic={"devices": [{"id": "offline", "rate": 200, "count": 100}]}
    )
    daemon = DaemonProcess(config, tmp_path)
    daemon.start()
    await daemon.wait_ready()  # READY without a broker
    await asyncio.sleep(1.0)  # the driver keeps producing into the outbox meanwhile
    broker.start()
    try:
        async with collect(
            broker.host, broker.port, "passerelle/test/synthetic", identifier="billing", clean_session=False
        ) as seen:
            await seen.wait_for(
                lambda m: len({e["event_id"] for e in seen.events()}) >= 100, 15, "100 events"
            )
        assert sorted({e["data"]["seq"] for e in seen.events()}) == list(range(100))
        assert await daemon.stop() == 0
    finally:
        broker.close()


async def test_a_connection_dropped_before_connack_is_retried_at_once(tmp_path: Path) -> None:
    """Like a broker that accepts TCP then goes away mid-handshake (restarting, or a proxy)."""
    attempts = 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal attempts
        attempts += 1
        await reader.read(1)  # the CONNECT packet has started
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = base_config(
        port,
        tmp_path / "state",
        mqtt={"host": "127.0.0.1", "port": port, "reconnect_min_seconds": 0.1, "reconnect_max_seconds": 0.3},
    )
    async with server, inprocess_daemon(config) as daemon:
        await asyncio.sleep(3.0)
        stats = daemon.publisher.stats
        # Each attempt fails as soon as the connection drops, not after the 10 s client timeout.
        assert attempts >= 5, attempts
        assert stats.connects_total == 0
        assert "before CONNACK" in (stats.last_error or "")


async def test_pending_events_are_replayed_after_a_restart(tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "state"
    config = base_config(port, state, synthetic={"devices": [{"id": "replay", "rate": 500, "count": 200}]})
    first = DaemonProcess(config, tmp_path / "first")
    first.start()
    await first.wait_ready()
    await asyncio.sleep(1.0)
    assert await first.stop() == 0  # broker never came: everything is still in the outbox
    assert "200 events remain in the outbox" in first.log()
    with PrivateBroker(port) as broker:
        async with collect(broker.host, broker.port, "passerelle/test/synthetic") as seen:
            second = DaemonProcess({**config, "synthetic": {"enabled": False}}, tmp_path / "second")
            second.start()
            await second.wait_ready()
            await seen.wait_for(lambda m: len({e["event_id"] for e in seen.events()}) >= 200, 15, "replay")
            assert sorted(e["data"]["seq"] for e in seen.events()) == list(range(200))
            assert await second.stop() == 0


async def test_full_outbox_turns_health_red_and_counts_refusals(tmp_path: Path) -> None:
    metrics_port = free_port()
    config = base_config(
        free_port(),  # nobody listens: the outbox only fills
        tmp_path / "state",
        outbox={"max_events": 100, "when_full": "refuse"},
        metrics={"enabled": True, "port": metrics_port},
        synthetic={"devices": [{"id": "flood", "rate": 0, "count": 150, "resume": False}]},
    )
    async with inprocess_daemon(config) as daemon:
        await wait_until(lambda: daemon.outbox.refused_total >= 50, 10, "refusals")
        health = daemon.health()
        assert health["status"] == "red"
        assert any("outbox full" in p for p in health["problems"])
        body = await scrape(metrics_port)
        assert "passerelle_outbox_full 1.0" in body
        assert "passerelle_outbox_pending_events 100.0" in body
        assert "passerelle_outbox_refused_events_total 50.0" in body
        assert 'passerelle_events_received_total{family="synthetic"} 150.0' in body
        assert json.loads(daemon.retained.get(daemon.topics.health) or b"{}")["status"] == "red"


async def scrape(port: int) -> str:
    url = f"http://127.0.0.1:{port}/metrics"
    return await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())


async def test_publish_counts_and_latency_histogram(broker: PrivateBroker, tmp_path: Path) -> None:
    metrics_port = free_port()
    config = base_config(
        broker.port,
        tmp_path / "state",
        metrics={"enabled": True, "port": metrics_port},
        synthetic={"devices": [{"id": "counted", "rate": 0, "count": 120, "resume": False}]},
    )
    async with inprocess_daemon(config) as daemon:
        await wait_until(lambda: daemon.publisher.stats.published_total >= 120, 15, "publishes")
        body = await scrape(metrics_port)
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith("passerelle_") and not line.startswith("passerelle_build")
    }
    assert samples['passerelle_events_received_total{family="synthetic"}'] == 120
    assert samples['passerelle_events_published_total{result="ok"}'] == 120
    assert samples['passerelle_events_published_total{result="failed"}'] == 0
    assert samples["passerelle_publish_latency_seconds_count"] == 120
    assert samples['passerelle_publish_latency_seconds_bucket{le="+Inf"}'] == 120
    assert 0 < samples["passerelle_publish_latency_seconds_sum"] < 120 * 10
    buckets = [v for k, v in samples.items() if k.startswith("passerelle_publish_latency_seconds_bucket")]
    assert buckets == sorted(buckets)  # cumulative
    assert samples['passerelle_publish_latency_seconds_bucket{le="10.0"}'] == 120  # a local broker


async def test_a_busy_metrics_port_leaves_the_daemon_running(broker: PrivateBroker, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = base_config(broker.port, tmp_path / "state", metrics={"enabled": True, "port": port})
        async with inprocess_daemon(config) as daemon:
            health = daemon.health()
            assert health["status"] == "yellow"
            assert any("metrics endpoint" in p for p in health["problems"])
