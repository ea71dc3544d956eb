"""Events too large for the broker are refused at hand-over; quarantined events are listed, retried and
discarded by request and by ``passerelle outbox`` (daemon running or stopped)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import aiomqtt
from pydantic import BaseModel, Field

from passerelle.daemon.broker import PrivateBroker
from passerelle.daemon.delivery import EventTooLargeError
from passerelle.daemon.driver import (
    DeviceChange,
    DeviceInfo,
    Driver,
    DriverContext,
    DriverEvent,
    DriverItem,
)
from passerelle.daemon.family import EventDeclaration, Family, FamilyBase, FamilySection, load_families
from passerelle.testing.support import collect, inprocess_daemon, to_toml, wait_until
from tests.core.family_support import PlainDriver
from tests.core.quarantine_support import (
    BASE,
    acl_broker,
    config,
    delivered,
    free_port,
    metrics,
    payload,
    request,
    store,
)

TOPIC = f"{BASE}/stored"


class Blob(BaseModel):
    filler: str


class SizedSection(FamilySection):
    sizes: list[int] = Field(default_factory=lambda: [10, 5000, 10])


class SizedDriver(PlainDriver):
    """Hands over one event per size once told to, and keeps what the core answered each one."""

    go: ClassVar[asyncio.Event] = asyncio.Event()
    outcomes: ClassVar[list[BaseException | None]] = []

    def __init__(self, section: SizedSection) -> None:
        self.device = DeviceInfo(id="sized", family="sized", driver="sized")
        self.sizes = section.sizes

    @property
    def name(self) -> str:
        return "sized/sized"

    async def events(self) -> AsyncIterator[DriverItem]:
        yield DeviceChange(self.device)
        await SizedDriver.go.wait()
        for size in self.sizes:
            ack = asyncio.get_running_loop().create_future()
            yield DriverEvent(device=self.device, schema="test.blob/1", data=Blob(filler="x" * size), ack=ack)
            try:
                await ack
                SizedDriver.outcomes.append(None)
            except Exception as exc:
                SizedDriver.outcomes.append(exc)
        await asyncio.Event().wait()


class SizedFamily(FamilyBase):
    name = "sized"
    section_model = SizedSection
    events = (EventDeclaration("test.blob/1", Blob, "blob", "a test blob"),)

    def create_drivers(self, section: FamilySection, context: DriverContext) -> Sequence[Driver]:
        assert isinstance(section, SizedSection)
        return [SizedDriver(section)]


async def hand_over_sizes(broker: PrivateBroker, state: Path, **mqtt: Any) -> dict[str, Any]:
    SizedDriver.go = asyncio.Event()
    SizedDriver.outcomes = []
    families: dict[str, Family] = {**load_families()[0], "sized": SizedFamily()}
    port = free_port()
    settings = {**config(broker, state, port, **mqtt), "sized": {"enabled": True}}
    async with (
        collect(broker.host, broker.port, f"{BASE}/blob") as seen,
        inprocess_daemon(settings, families) as daemon,
    ):
        await wait_until(lambda: daemon.publisher.stats.connected, 10, "a connection")
        SizedDriver.go.set()
        await wait_until(lambda: len(SizedDriver.outcomes) == 3, 10, "three answers")
        await seen.wait_for(lambda m: len(m) == 2, 10, "the two small events")
        await wait_until(lambda: daemon.outbox.count == 0, 10, "an empty outbox")
        return {
            "metrics": await metrics(port),
            "health": daemon.health(),
            "quarantined": daemon.quarantine.count,
        }


def assert_refused_at_hand_over(result: dict[str, Any], why: str) -> None:
    small, big, after = SizedDriver.outcomes
    assert small is None and after is None
    assert isinstance(big, EventTooLargeError)
    assert why in str(big)
    assert result["metrics"]["passerelle_events_too_large_total"] == 1
    assert result["health"]["outbox"]["too_large"] == 1
    assert result["quarantined"] == 0  # never stored, so nothing to set aside


async def test_the_configured_payload_limit_refuses_at_hand_over(tmp_path: Path) -> None:
    # MQTT 3.1.1: Mosquitto acknowledges then drops a payload beyond message_size_limit; only the
    # configured limit can keep such an event from being lost.
    with PrivateBroker(extra_config=["message_size_limit 4096"]) as broker:
        result = await hand_over_sizes(broker, tmp_path / "state", protocol="3.1.1", max_payload_bytes=4096)
    assert_refused_at_hand_over(result, "exceeds mqtt.max_payload_bytes (4096)")


async def test_the_broker_maximum_packet_size_refuses_at_hand_over(tmp_path: Path) -> None:
    with PrivateBroker(extra_config=["max_packet_size 4096"]) as broker:
        result = await hand_over_sizes(broker, tmp_path / "state")
    assert_refused_at_hand_over(result, "exceeds the broker's Maximum Packet Size (4096)")


async def test_requests_list_retry_and_discard(tmp_path: Path) -> None:
    state, denied = tmp_path / "state", f"{BASE}/denied"
    denied_id, denied_body = payload(1)
    invalid_id, invalid_body = payload(2)
    await store(state, [(denied, denied_body), (f"{BASE}/bad/+", invalid_body), (TOPIC, payload(3)[1])])
    with acl_broker(denied) as (broker, acl):
        async with (
            collect(broker.host, broker.port, f"{BASE}/#") as seen,
            aiomqtt.Client(broker.host, broker.port) as client,
            inprocess_daemon(config(broker, state, free_port())) as daemon,
        ):
            await wait_until(lambda: daemon.quarantine.count == 2, 15, "two quarantined events")
            listed = await request(seen, client, {"action": "list"})
            assert listed["status"] == "ok"
            events = {e["event_id"]: e for e in listed["data"]["events"]}
            assert set(events) == {denied_id, invalid_id}
            assert events[denied_id]["attempts"] == 3 and "Not authorized" in events[denied_id]["reason"]
            assert "payload" not in events[denied_id]  # it may hold patient data

            refused = await request(seen, client, {"action": "discard"})
            assert refused["status"] == "error" and refused["error"]["code"] == "invalid_request"

            gone = await request(seen, client, {"action": "discard", "seq": events[invalid_id]["seq"]})
            assert gone["data"] == {"discarded": [events[invalid_id]["seq"]], "count": 1}

            acl.write_text(f"topic readwrite {BASE}/#\n")  # the operator fixes the broker…
            assert broker.process is not None
            broker.process.send_signal(signal.SIGHUP)  # …which reloads its ACL
            await asyncio.sleep(0.2)  # mosquitto gives no sign that it reloaded
            retried = await request(seen, client, {"action": "retry", "all": True})
            assert retried["data"] == {"retried": [events[denied_id]["seq"]], "error": None, "count": 0}
            await seen.wait_for(lambda _: delivered(seen, [denied_id]), 10, "the retried event")
            await wait_until(lambda: daemon.health()["status"] == "green", 5, "green health")


def cli(args: list[str], config_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "passerelle.daemon.cli", "outbox", *args, "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
        check=False,
    )


async def test_the_command_asks_the_running_daemon_and_works_alone_when_it_is_stopped(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    odd_id, odd_body = payload(1, 5000)
    await store(state, [(TOPIC, odd_body)])
    limited = config(broker, state, free_port(), max_payload_bytes=4096)
    config_path = tmp_path / "config.toml"
    config_path.write_text(to_toml(limited))
    async with inprocess_daemon(limited) as daemon:
        await wait_until(lambda: daemon.quarantine.count == 1, 10, "the quarantine")
        listed = await asyncio.to_thread(cli, ["list"], config_path)  # via MQTT: the daemon holds the lock
        assert listed.returncode == 0, listed.stderr
        [event] = json.loads(listed.stdout)["events"]
        assert event["event_id"] == odd_id and "max_payload_bytes" in event["reason"]
        nothing = await asyncio.to_thread(cli, ["retry"], config_path)
        assert nothing.returncode == 2 and "name the events" in nothing.stderr

    retried = await asyncio.to_thread(cli, ["retry", "--seq", str(event["seq"])], config_path)  # stopped
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout) == {"retried": [event["seq"]], "error": None, "count": 0}

    async with (
        collect(broker.host, broker.port, f"{BASE}/#") as seen,
        inprocess_daemon(config(broker, state, free_port())) as daemon,
    ):
        await seen.wait_for(lambda _: delivered(seen, [odd_id]), 10, "the retried event")
        assert daemon.quarantine.count == 0
