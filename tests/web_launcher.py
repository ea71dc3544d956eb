"""A real station for the Node and browser test tiers and the web benchmarks: a private Mosquitto,
``passerelle run`` as a process with the web API on a free loopback port, and a serial scanner
simulator on a real pty.

    .venv/bin/python -m tests.web_launcher [--allowed-origin http://127.0.0.1:PORT] [--mqtt-timing]

It speaks JSON lines: first ``{"ready": {...}}`` on stdout, then one answer per command read on
stdin:

- ``{"cmd": "scan", "text": "..."}``, ``{"cmd": "scan_many", "texts": [...], "rate": 50}``;
- ``{"cmd": "restart"}``: stops and starts the daemon, so its web endpoint with it (answered once
  the scanner is open again);
- ``{"cmd": "proc"}``: the daemon's CPU seconds so far and its resident memory;
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
import os
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt

from passerelle.daemon.broker import PrivateBroker, free_port, port_open
from passerelle.simulators.scanner.serial_sim import SerialScannerSimulator
from passerelle.testing.support import DaemonProcess, base_config

STATION = "test"
SCANNER_ID = "web-serial"


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class MqttWatch:
    """A plain MQTT subscriber beside the daemon: when the scanner is online (a scan typed before the
    driver opens the pty is lost, as with a real port), and with ``timing`` the arrival of each scan."""

    def __init__(self, port: int, timing: bool) -> None:
        self.port = port
        self.timing = timing
        self.online_at: list[float] = []  # monotonic arrival of each "online" availability message
        self.changed = asyncio.Event()

    async def run(self, subscribed: asyncio.Event) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port) as client:
            await client.subscribe(f"passerelle/{STATION}/{SCANNER_ID}/availability", qos=1)
            if self.timing:
                await client.subscribe(f"passerelle/{STATION}/scan", qos=1)
            subscribed.set()
            async for message in client.messages:
                received_at = time.time()
                body = json.loads(message.payload if isinstance(message.payload, bytes) else b"{}")
                if message.topic.matches(f"passerelle/{STATION}/scan"):
                    raw = body["data"]["raw"]
                    emit({"mqtt": {"event_id": body["event_id"], "raw": raw, "at": received_at}})
                elif body.get("state") == "online":
                    self.online_at.append(time.monotonic())
                    self.changed.set()

    async def wait_online_since(self, since: float, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(at >= since for at in self.online_at):
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"scanner {SCANNER_ID} not online after {timeout} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)


def process_usage(pid: int) -> dict[str, float]:
    """CPU seconds used so far and resident memory of the daemon process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15 of stat)
    rss_kib = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    return {"cpu_seconds": cpu, "rss_bytes": rss_kib * 1024}


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
        watch = MqttWatch(broker.port, args.mqtt_timing)
        subscribed = asyncio.Event()
        watching = asyncio.create_task(watch.run(subscribed))
        try:
            await asyncio.wait_for(subscribed.wait(), 10)
            await start(daemon, watch, web_port)
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
            await commands(daemon, watch, scanner, web_port)
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
            await daemon.stop()


async def start(daemon: DaemonProcess, watch: MqttWatch, web_port: int) -> None:
    """Starts the daemon and returns once its web port listens and the scanner is open."""
    began = time.monotonic()
    daemon.start()
    await daemon.wait_ready()
    await wait_port(web_port)
    await watch.wait_online_since(began)


async def commands(
    daemon: DaemonProcess, watch: MqttWatch, scanner: SerialScannerSimulator, web_port: int
) -> None:
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
                    await start(daemon, watch, web_port)
                    emit({"ok": True})
                case "freeze" | "thaw":
                    # A hung daemon: its sockets stay open but nothing answers (request timeouts).
                    assert daemon.process is not None
                    freeze = command["cmd"] == "freeze"
                    daemon.process.send_signal(signal.SIGSTOP if freeze else signal.SIGCONT)
                    emit({"ok": True})
                case "proc":
                    assert daemon.process is not None
                    emit({"ok": True, **process_usage(daemon.process.pid)})
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
