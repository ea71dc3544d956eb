"""A real station for the Node and browser test tiers and the web benchmarks: a private Mosquitto,
``passerelle run`` as a process with the web API on a free loopback port, and a serial scanner
simulator on a real pty.

    .venv/bin/python -m tests.web_launcher [--allowed-origin http://127.0.0.1:PORT] [--mqtt-timing]

It speaks JSON lines: first ``{"ready": {...}}`` on stdout, then one answer per command read on
stdin:

- ``{"cmd": "scan", "text": "..."}``, ``{"cmd": "scan_many", "texts": [...], "rate": 50}``;
- ``{"cmd": "restart"}``: stops and starts the daemon, so its web endpoint with it;
- ``{"cmd": "freeze"}`` / ``{"cmd": "thaw"}``: SIGSTOP / SIGCONT, a hung daemon whose sockets stay open.

With ``--mqtt-timing`` every scan event seen by an MQTT subscriber is printed as ``{"mqtt": {...}}`` with
its wall-clock arrival time, the baseline the web latency is compared with. End of stdin (the Node
test finished or died) stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt

from daemon.broker import PrivateBroker, free_port, port_open
from simulators.scanner.serial_sim import SerialScannerSimulator
from tests.support import DaemonProcess, base_config

STATION = "test"
SCANNER_ID = "web-serial"


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def mqtt_timing(port: int) -> None:
    """Arrival time of each scan at a plain MQTT subscriber (wall clock, like the page's)."""
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(f"passerelle/{STATION}/scan", qos=1)
        emit({"mqtt_subscribed": True})
        async for message in client.messages:
            received_at = time.time()
            body = json.loads(message.payload if isinstance(message.payload, bytes) else b"{}")
            emit({"mqtt": {"event_id": body["event_id"], "raw": body["data"]["raw"], "at": received_at}})


async def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_open("127.0.0.1", port):
        if time.monotonic() > deadline:
            raise AssertionError(f"web port {port} not listening after {timeout} s")
        await asyncio.sleep(0.02)


async def scan_many(scanner: SerialScannerSimulator, texts: list[str], rate: float) -> list[float]:
    """Scans at a steady rate (scheduled, not slept: a slow write does not shift the next ones)."""
    start = time.monotonic()
    sent = []
    for index, text in enumerate(texts):
        await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
        await scanner.scan(text)
        sent.append(time.time())
    return sent


async def serve(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="passerelle-web-launcher-"))
    token = secrets.token_urlsafe(24)
    web_port = free_port()
    with PrivateBroker() as broker, SerialScannerSimulator(workdir / "ttyscan") as scanner:
        config = base_config(
            broker.port,
            workdir / "state",
            station=STATION,
            scanner={"devices": [{"id": SCANNER_ID, "driver": "serial", "path": str(scanner.link)}]},
            web={"port": web_port, "token": token, "allowed_origins": args.allowed_origin},
        )
        config["logging"] = {"level": "WARNING", "format": "json"}
        daemon = DaemonProcess(config, workdir / "daemon")
        timing: asyncio.Task[None] | None = None
        try:
            daemon.start()
            await daemon.wait_ready()
            await wait_port(web_port)
            if args.mqtt_timing:
                timing = asyncio.create_task(mqtt_timing(broker.port))
            emit(
                {
                    "ready": {
                        "url": f"ws://127.0.0.1:{web_port}",
                        "http": f"http://127.0.0.1:{web_port}",
                        "token": token,
                        "mqtt_port": broker.port,
                        "base_topic": f"passerelle/{STATION}",
                        "scanner": SCANNER_ID,
                        "log": str(daemon.log_path),
                    }
                }
            )
            await commands(daemon, scanner, web_port)
        finally:
            if timing is not None:
                timing.cancel()
                await asyncio.gather(timing, return_exceptions=True)
            await daemon.stop()


async def commands(daemon: DaemonProcess, scanner: SerialScannerSimulator, web_port: int) -> None:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        try:
            match command["cmd"]:
                case "scan":
                    await scanner.scan(command["text"])
                    emit({"ok": True, "sent_at": time.time()})
                case "scan_many":
                    sent = await scan_many(scanner, command["texts"], float(command["rate"]))
                    emit({"ok": True, "sent_at": sent})
                case "restart":
                    await daemon.stop()
                    daemon.start()
                    await daemon.wait_ready()
                    await wait_port(web_port)
                    emit({"ok": True})
                case "freeze" | "thaw":
                    # A hung daemon: its sockets stay open but nothing answers (request timeouts).
                    assert daemon.process is not None
                    freeze = command["cmd"] == "freeze"
                    daemon.process.send_signal(signal.SIGSTOP if freeze else signal.SIGCONT)
                    emit({"ok": True})
                case other:
                    emit({"ok": False, "error": f"unknown command {other!r}"})
        except Exception as exc:  # the Node side reports it; the launcher keeps serving
            emit({"ok": False, "error": f"{type(exc).__name__}: {exc}", "log": daemon.log()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--allowed-origin", action="append", default=[])
    parser.add_argument("--mqtt-timing", action="store_true")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
