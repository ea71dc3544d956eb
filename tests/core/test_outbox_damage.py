"""Outbox damage seen from outside: health red with the reason until an operator acknowledges it (CLI or
request), the damaged event announced on bridge/loss instead of published. Real daemon, real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from uuid import uuid4

import aiomqtt

from passerelle.daemon.broker import PrivateBroker, free_port
from passerelle.daemon.outbox import Outbox
from passerelle.testing.support import (
    DaemonProcess,
    base_config,
    collect,
    inprocess_daemon,
    to_toml,
    wait_until,
)


def damage_problems(health: dict[str, object]) -> list[str]:
    return [p for p in health["problems"] if "outbox damage" in p]  # type: ignore[attr-defined]


async def damage_cli(action: str, config: Path) -> tuple[int, str]:
    """``passerelle outbox-damage <action>`` as an operator runs it, beside the running daemon."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "passerelle.daemon.cli",
        "outbox-damage",
        action,
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return await process.wait(), output.decode()


def damaged_files(directory: Path) -> list[Path]:
    return list(directory.glob("outbox.sqlite3.damaged-*"))


async def store(path: Path, count: int) -> None:
    outbox = Outbox(path, max_events=100, max_bytes=1 << 20, when_full="refuse")
    await outbox.open()
    for n in range(count):
        event_id = str(uuid4())
        body = {"schema": "test.stored/1", "event_id": event_id, "data": {"mark": f"MARK-{n}"}}
        await outbox.append(event_id, "passerelle/test/stored", json.dumps(body).encode())
    await outbox.close()


async def test_a_damaged_stored_event_is_announced_and_red_until_acknowledged(tmp_path: Path) -> None:
    state = tmp_path / "state"
    await store(state / "outbox.sqlite3", 5)
    db = state / "outbox.sqlite3"
    data = bytearray(db.read_bytes())
    data[data.index(b"MARK-2") + 5] ^= 0x01  # one bit flipped on disk, inside one event
    db.write_bytes(data)
    broker = PrivateBroker(free_port())  # down: the damage must show without it
    config = base_config(broker.port, state)
    (tmp_path / "config.toml").write_text(to_toml(config))
    async with inprocess_daemon(config) as daemon:
        await wait_until(lambda: bool(damage_problems(daemon.health())), 10, "damage in health")
        assert daemon.health()["status"] == "red"
        assert "checksum" in damage_problems(daemon.health())[0]
        code, shown = await damage_cli("show", tmp_path / "config.toml")
        assert code == 0 and "checksum" in shown
        code, acked = await damage_cli("ack", tmp_path / "config.toml")
        assert code == 0 and "acknowledged 1" in acked
        await wait_until(lambda: not damage_problems(daemon.health()), 5, "the acknowledgement")
        broker.start()
        try:
            async with collect(broker.host, broker.port, "passerelle/test/#") as seen:
                await seen.wait_for(lambda _: len(seen.events()) >= 5, 15, "4 events and the loss")
            marks = sorted(e["data"]["mark"] for e in seen.events("test.stored/1"))
            assert marks == ["MARK-0", "MARK-1", "MARK-3", "MARK-4"]
            [loss] = seen.events("passerelle.loss/1")
            assert loss["data"]["dropped"] == 1 and "checksum" in loss["data"]["reason"]
        finally:
            broker.close()


async def test_an_empty_outbox_file_is_moved_aside_and_acknowledged_by_request(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "outbox.sqlite3").touch()  # what a crash on some file systems leaves
    daemon = DaemonProcess(base_config(broker.port, state), tmp_path)
    daemon.start()
    await daemon.wait_ready()
    async with collect(broker.host, broker.port, "passerelle/test/bridge/#") as seen:

        def health() -> dict[str, object]:
            return json.loads(seen.on("passerelle/test/bridge/health")[-1].payload)  # type: ignore[no-any-return]

        await seen.wait_for(lambda m: bool(seen.on("passerelle/test/bridge/health")), 10, "health")
        assert health()["status"] == "red" and "empty (0 bytes)" in damage_problems(health())[0]
        assert damaged_files(state)
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.publish("passerelle/test/bridge/request/outbox-damage-ack", b"{}", qos=1)
        await seen.wait_for(lambda m: bool(seen.on("passerelle/test/bridge/response/outbox-damage-ack")), 10)
        answer = json.loads(seen.on("passerelle/test/bridge/response/outbox-damage-ack")[-1].payload)
        assert answer["status"] == "ok" and answer["data"] == {"acknowledged": 1}
        await seen.wait_for(lambda m: not damage_problems(health()), 10, "health without the damage")
    assert await daemon.stop() == 0
    daemon.start()  # the acknowledgement is kept: a restart is not red again
    await daemon.wait_ready()
    await asyncio.sleep(0)
    async with collect(broker.host, broker.port, "passerelle/test/bridge/health") as seen:
        await seen.wait_for(lambda m: bool(m), 10, "health")
        assert not damage_problems(json.loads(seen.messages[-1].payload))
    assert await daemon.stop() == 0
