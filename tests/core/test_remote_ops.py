"""Remote operations, each asked by a real MQTT client through the daemon's request topics."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import random
import uuid
from pathlib import Path
from typing import Any

import aiomqtt

from passerelle.daemon.broker import PrivateBroker
from passerelle.testing.support import (
    DaemonProcess,
    Received,
    base_config,
    collect,
    inprocess_daemon,
    wait_until,
)

NIR = "1 85 05 78 006 084 36"  # a well-formed NIR (valid key), written as on a card


async def ask(broker: PrivateBroker, command: str, body: dict[str, Any] | None = None) -> Received:
    """Publish ``bridge/request/<command>`` and return the answer carrying our transaction."""
    transaction = uuid.uuid4().hex
    topic = f"passerelle/test/bridge/response/{command}"
    async with collect(broker.host, broker.port, "passerelle/test/bridge/#") as seen:
        # "online" is published once the daemon listens to requests
        await seen.wait_for(lambda m: any(x.payload == b'{"state":"online"}' for x in m), 15, "online")
        async with aiomqtt.Client(broker.host, broker.port) as client:
            payload = json.dumps({**(body or {}), "transaction": transaction})
            await client.publish(f"passerelle/test/bridge/request/{command}", payload, qos=1)
        await seen.wait_for(
            lambda m: any(x.topic == topic and x.json().get("transaction") == transaction for x in m),
            15,
            f"answer to {command}",
        )
    return next(x for x in seen.on(topic) if x.json().get("transaction") == transaction)


def unpack(answer: Received) -> tuple[str, dict[str, Any]]:
    data = answer.json()["data"]
    assert data["encoding"] == "gzip+base64"
    text = gzip.decompress(base64.b64decode(data["bundle"])).decode("utf-8")
    return text, json.loads(text)


async def test_config_is_the_effective_configuration_without_secrets(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    mqtt = {"port": broker.port, "username": "comptoir", "password": "s3cret-pass"}
    config = base_config(broker.port, tmp_path / "state", mqtt=mqtt, synthetic={"devices": [{"id": "c1"}]})
    async with inprocess_daemon(config):
        answer = await ask(broker, "config")
    assert b"s3cret-pass" not in answer.payload
    data = answer.json()["data"]
    settings = data["settings"]
    assert settings["mqtt"]["password"] == "**********"
    assert settings["mqtt"]["keepalive"] == 30  # defaults filled in
    assert settings["synthetic"]["devices"][0]["id"] == "c1"  # family sections as validated
    assert "servers" in data["schema"]["$defs"]["MqttSettings"]["properties"]
    assert "devices" in data["section_schemas"]["synthetic"]["properties"]


async def test_doctor_runs_the_checks_in_the_daemon(broker: PrivateBroker, tmp_path: Path) -> None:
    async with inprocess_daemon(base_config(broker.port, tmp_path / "state")):
        data = (await ask(broker, "doctor")).json()["data"]
    broker_checks = [c for c in data["checks"] if c["name"] == "broker"]
    assert broker_checks == [
        {"name": "broker", "ok": True, "detail": f"127.0.0.1:{broker.port} accepts connections",
         "fix": broker_checks[0]["fix"]}
    ]  # fmt: skip


async def test_log_level_is_temporary(broker: PrivateBroker, tmp_path: Path) -> None:
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.INFO)
    try:
        async with inprocess_daemon(base_config(broker.port, tmp_path / "state")):
            refused = (await ask(broker, "log-level", {"level": "TRACE"})).json()
            assert refused["status"] == "error" and refused["error"]["code"] == "invalid_argument"
            too_long = (await ask(broker, "log-level", {"level": "DEBUG", "duration_seconds": 1e9})).json()
            assert too_long["error"]["code"] == "invalid_argument"
            data = (await ask(broker, "log-level", {"level": "DEBUG", "duration_seconds": 1.5})).json()[
                "data"
            ]
            assert data["level"] == "DEBUG" and data["reverts_to"] == "INFO"
            assert root.level == logging.DEBUG
            await wait_until(lambda: root.level == logging.INFO, 5, "the level reverting by itself")
    finally:
        root.setLevel(before)


async def test_restart_stops_cleanly_with_status_75_and_keeps_the_outbox(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    config = base_config(broker.port, tmp_path / "state")
    daemon = DaemonProcess(config, tmp_path / "daemon")
    daemon.start()
    await daemon.wait_ready()
    answer = (await ask(broker, "restart")).json()
    assert answer["status"] == "ok" and answer["data"] == {"restarting": True, "exit_status": 75}
    assert await daemon.wait_exit(20) == 75  # systemd's Restart=on-failure starts it again
    assert "restart requested over MQTT" in daemon.log()
    assert "stopped;" in daemon.log()  # the graceful path: drivers stopped, outbox closed
    daemon.start()  # as systemd would
    await daemon.wait_ready()
    assert await daemon.stop() == 0


async def test_support_bundle_is_redacted_and_complete(broker: PrivateBroker, tmp_path: Path) -> None:
    mqtt = {"port": broker.port, "password": "s3cret-pass", "username": "comptoir"}
    async with inprocess_daemon(base_config(broker.port, tmp_path / "state", mqtt=mqtt)):
        logging.getLogger("daemon.test").warning("card read for %s (%s)", NIR, NIR.replace(" ", ""))
        answer = await ask(broker, "support-bundle")
    text, bundle = unpack(answer)
    assert NIR not in text and NIR.replace(" ", "") not in text and "s3cret-pass" not in text
    assert any("card read for [NIR?] ([NIR?])" in r["message"] for r in bundle["logs"])
    assert bundle["versions"]["passerelle"] and bundle["versions"]["aiomqtt"] != "not installed"
    assert bundle["config"]["settings"]["mqtt"]["password"] == "**********"
    assert any(c["name"] == "broker" and c["ok"] for c in bundle["doctor"])
    assert bundle["health"]["broker"]["connected"] is True


async def test_support_bundle_fits_the_brokers_maximum_packet_size(tmp_path: Path) -> None:
    limit = 16384  # announced in the CONNACK (MQTT 5 Maximum Packet Size)
    with PrivateBroker(extra_config=[f"max_packet_size {limit}"]) as broker:
        async with inprocess_daemon(base_config(broker.port, tmp_path / "state")) as daemon:
            await wait_until(
                lambda: daemon.publisher.stats.broker_maximum_packet_size == limit, 10, "CONNACK"
            )
            noise = random.Random(7)
            for n in range(1000):  # log lines that compress badly
                logging.getLogger("daemon.test").warning("%d %s", n, noise.randbytes(60).hex())
            answer = await ask(broker, "support-bundle")
    assert len(answer.payload) <= limit
    data = answer.json()["data"]
    assert data["limit_bytes"] == limit and data["log_records_left_out"] > 0
    _, bundle = unpack(answer)
    assert bundle["logs"][-1]["message"].startswith("999 ")  # the newest are kept
