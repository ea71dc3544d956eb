"""The core commands as a user runs them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiomqtt

from passerelle.daemon import __version__
from passerelle.daemon.broker import PrivateBroker, free_port
from passerelle.testing.support import DaemonProcess, base_config, to_toml

PASSERELLE = [sys.executable, "-m", "passerelle.daemon.cli"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PASSERELLE, *args], capture_output=True, text=True, timeout=timeout)


def test_version_and_help() -> None:
    assert run("--version").stdout.strip() == f"passerelle {__version__}"
    help_text = run("--help").stdout
    for command in (
        "run",
        "demo",
        "tail",
        "schema",
        "config",
        "doctor",
        "simulate",
        "decode",
        "cards",
        "observance",
    ):
        assert command in help_text


def test_doctor_says_how_to_fix_what_fails(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = tmp_path / "config.toml"
    config.write_text(to_toml({"mqtt": {"port": free_port()}, "state_directory": str(blocker / "state")}))
    result = run("doctor", "--config", str(config))
    assert result.returncode == 1
    assert "[FAIL] broker" in result.stdout
    assert "fix: apt-get install mosquitto" in result.stdout
    assert "[FAIL] state directory" in result.stdout
    assert "[ok  ] configuration: valid" in result.stdout


async def test_tail_pretty_prints_events(broker: PrivateBroker, tmp_path: Path) -> None:
    config = base_config(
        broker.port, tmp_path / "state", synthetic={"devices": [{"id": "tailme", "rate": 20}]}
    )
    daemon = DaemonProcess(config, tmp_path)
    daemon.start()
    await daemon.wait_ready()
    process = await asyncio.create_subprocess_exec(
        *PASSERELLE, "tail", "--host", broker.host, "--port", str(broker.port), "--base", "passerelle/test",
        "--family", "synthetic", "--count", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, _ = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0
    text = stdout.decode()
    assert text.count("synthetic  [passerelle.synthetic/1] device=tailme") == 3
    assert '"seq":' in text
    assert await daemon.stop() == 0


async def test_demo_shows_live_events_from_every_family() -> None:
    process = await asyncio.create_subprocess_exec(
        *PASSERELLE, "demo", "--duration", "20",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    stdout, _ = await asyncio.wait_for(process.communicate(), 90)
    text = stdout.decode(errors="replace")
    assert process.returncode == 0, text[-3000:]
    assert "mosquitto_sub -h 127.0.0.1 -p" in text
    for schema in ("[passerelle.scan/1]", "[passerelle.card/1]", "[passerelle.observance.day/1]"):
        assert schema in text, f"{schema} missing from the demo:\n{text[-3000:]}"
    assert "demo stopped." in text
    assert "cannot run on this machine" not in text


async def test_demo_uses_a_configured_broker(tmp_path: Path) -> None:
    with PrivateBroker() as broker:
        config = tmp_path / "config.toml"
        config.write_text(to_toml({"station": "shop", "mqtt": {"port": broker.port}}))
        process = await asyncio.create_subprocess_exec(
            *PASSERELLE, "demo", "--config", str(config), "--duration", "6", "--quiet",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.subscribe("passerelle/shop/bridge/state", qos=1)
            async with asyncio.timeout(20):
                async for message in client.messages:
                    assert message.payload == b'{"state":"online"}'
                    break
        stdout, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, stdout.decode()[-2000:]
        assert f"broker 127.0.0.1:{broker.port}" in stdout.decode()
