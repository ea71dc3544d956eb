"""Authentication and a broker that refuses events: nothing is deleted until the broker accepts it."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from passerelle.daemon.broker import PrivateBroker, free_port
from passerelle.testing.support import DaemonProcess, base_config, collect, to_toml, wait_until


def failed_publishes(metrics_port: int) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    match = re.search(r'^passerelle_events_published_total\{result="failed"\} ([0-9.e+]+)$', body, re.M)
    return float(match.group(1)) if match else 0.0


def write_acl(workdir: Path, allow_events: bool) -> Path:
    acl = workdir / "acl"
    rules = [
        "user comptoir",
        "topic readwrite passerelle/test/bridge/#",
        "topic readwrite passerelle/test/+/availability",
    ]
    if allow_events:
        rules.append("topic readwrite passerelle/test/synthetic")
    rules += ["", "user reader", "topic read passerelle/#"]
    acl.write_text("\n".join(rules) + "\n")
    return acl


def broker_with_acl(workdir: Path, allow_events: bool, port: int | None = None) -> PrivateBroker:
    workdir.mkdir(parents=True, exist_ok=True)
    passwords = workdir / "passwd"
    if not passwords.exists():
        subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), "comptoir", "s3cret"], check=True)
        subprocess.run(["mosquitto_passwd", "-b", str(passwords), "reader", "r3ader"], check=True)
    acl = write_acl(workdir, allow_events)
    return PrivateBroker(
        port,
        persistence=True,
        workdir=workdir,
        extra_config=[f"password_file {passwords}", f"acl_file {acl}"],
    )


async def test_refused_events_stay_stored_until_the_broker_accepts_them(tmp_path: Path) -> None:
    broker = broker_with_acl(tmp_path / "mq", allow_events=False)
    broker.start()
    config = base_config(
        broker.port,
        tmp_path / "state",
        mqtt={"host": broker.host, "port": broker.port, "username": "comptoir", "password": "s3cret",
              "reconnect_min_seconds": 0.1, "reconnect_max_seconds": 0.5},
        synthetic={"devices": [{"id": "acl", "rate": 100, "count": 30}]},
        metrics={"enabled": True, "port": (metrics_port := free_port())},
    )  # fmt: skip
    daemon = DaemonProcess(config, tmp_path / "daemon")
    try:
        # The reader listens from the start: whatever the broker accepts, it sees.
        async with collect(
            broker.host, broker.port, "passerelle/test/synthetic", username="reader", password="r3ader"
        ) as seen:
            daemon.start()
            await daemon.wait_ready()
            await asyncio.sleep(1.5)  # every event was offered and refused (PUBACK 0x87 Not authorized)
            assert "broker refused an event" in daemon.log()
            assert "s3cret" not in daemon.log()
            await wait_until(lambda: failed_publishes(metrics_port) > 0, 5, "refusals counted in the metrics")
            assert seen.events() == []
            # The operator fixes the ACL; mosquitto rereads it on SIGHUP, without a restart.
            write_acl(tmp_path / "mq", allow_events=True)
            assert broker.process is not None
            broker.process.send_signal(signal.SIGHUP)
            await seen.wait_for(
                lambda m: len({e["event_id"] for e in seen.events()}) >= 30, 20, "all 30 events"
            )
        assert sorted({e["data"]["seq"] for e in seen.events()}) == list(range(30))
        assert await daemon.stop() == 0
    finally:
        broker.close()


async def test_wrong_password_is_reported_and_retried(tmp_path: Path) -> None:
    broker = broker_with_acl(tmp_path / "mq", allow_events=True)
    broker.start()
    try:
        config = base_config(
            broker.port,
            tmp_path / "state",
            mqtt={"host": broker.host, "port": broker.port, "username": "comptoir", "password": "wrong",
                  "reconnect_min_seconds": 0.1, "reconnect_max_seconds": 0.3},
        )  # fmt: skip
        daemon = DaemonProcess(config, tmp_path / "daemon")
        daemon.start()
        await daemon.wait_ready()  # READY even though the broker refuses us: events are stored
        await wait_until(lambda: "lost or refused" in daemon.log(), 10, "a connection refusal in the log")
        assert "wrong" not in daemon.log().replace("wrong password", "")
        assert await daemon.stop() == 0
    finally:
        broker.close()


async def test_tail_uses_the_stations_credentials(tmp_path: Path) -> None:
    broker = broker_with_acl(tmp_path / "mq", allow_events=True)
    broker.start()
    try:
        config = base_config(
            broker.port,
            tmp_path / "state",
            mqtt={"host": broker.host, "port": broker.port, "username": "comptoir", "password": "s3cret"},
        )
        daemon = DaemonProcess(config, tmp_path / "daemon")
        daemon.start()
        await daemon.wait_ready()
        config_file = tmp_path / "tail.toml"
        config_file.write_text(to_toml(config))
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "passerelle.daemon.cli", "tail", "--config", str(config_file),
            "--count", "1",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 0, stderr.decode()
        assert "bridge/" in stdout.decode()  # a retained bridge topic, read with the station's user
        assert await daemon.stop() == 0
    finally:
        broker.close()
