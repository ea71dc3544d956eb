"""Test helpers shared by every family: config files, the daemon as a real process or in-process,
and an MQTT collector on a real broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from passerelle.daemon.app import Daemon
from passerelle.daemon.config import load_config
from passerelle.daemon.family import Family, load_families


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def to_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """A small TOML writer for test configs: tables, arrays of tables, scalars, inline values."""
    scalars, tables, arrays = [], [], []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            arrays.append((key, value))
        else:
            scalars.append(f"{key} = {_toml_value(value)}")
    out = "\n".join(scalars) + ("\n" if scalars else "")
    for key, value in tables:
        name = f"{prefix}{key}"
        out += f"\n[{name}]\n" + to_toml(value, prefix=f"{name}.")
    for key, items in arrays:
        name = f"{prefix}{key}"
        for item in items:
            out += f"\n[[{name}]]\n" + to_toml(item, prefix=f"{name}.")
    return out


def base_config(broker_port: int, state_dir: Path, station: str = "test", **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "station": station,
        "state_directory": str(state_dir),
        "mqtt": {
            "host": "127.0.0.1",
            "port": broker_port,
            "reconnect_min_seconds": 0.1,
            "reconnect_max_seconds": 1.0,
        },
        "metrics": {"enabled": False},
        "web": {"enabled": False},  # web tests turn it on with a free port (tests/web/)
        "logging": {"level": "INFO", "format": "json"},
    }
    # Families not named by the test stay off, so a test sees only the devices it set up (and never
    # the machine's own readers or scanners).
    for family in load_families()[0]:
        config[family] = {"enabled": False}
    config.update(extra)
    return config


async def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.02
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    properties: Any = None
    received_at: float = field(default_factory=time.monotonic)  # when the collector got it

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class MqttCollector:
    """Everything published under ``topic_filter`` while it runs, kept in order."""

    host: str
    port: int
    topic_filter: str
    messages: list[Received] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on(self, topic: str) -> list[Received]:
        return [m for m in self.messages if m.topic == topic]

    def events(self, schema: str | None = None) -> list[dict[str, Any]]:
        out = []
        for m in self.messages:
            with contextlib.suppress(ValueError):
                body = json.loads(m.payload)
                if (
                    isinstance(body, dict)
                    and "event_id" in body
                    and (schema is None or body.get("schema") == schema)
                ):
                    out.append(body)
        return out

    async def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout: float = 10.0, what: str = ""
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.messages):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                topics = sorted({m.topic for m in self.messages})
                raise AssertionError(f"timed out waiting for {what or 'messages'}; topics seen: {topics}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    async def wait_for_event(
        self, schema: str, predicate: Callable[[dict[str, Any]], bool] = lambda e: True, timeout: float = 10.0
    ) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def check(_: list[Received]) -> bool:
            found[:] = [e for e in self.events(schema) if predicate(e)]
            return bool(found)

        await self.wait_for(check, timeout, f"an event {schema}")
        return found[0]


@contextlib.asynccontextmanager
async def collect(
    host: str, port: int, topic_filter: str, **client_options: Any
) -> AsyncIterator[MqttCollector]:
    collector = MqttCollector(host, port, topic_filter)
    async with aiomqtt.Client(host, port, **client_options) as client:
        await client.subscribe(topic_filter, qos=1)

        async def pump() -> None:
            async for message in client.messages:
                payload = (
                    message.payload
                    if isinstance(message.payload, bytes)
                    else str(message.payload or "").encode()
                )
                collector.messages.append(
                    Received(str(message.topic), payload, bool(message.retain), message.properties)
                )
                collector.changed.set()

        task = asyncio.create_task(pump())
        try:
            yield collector
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def inprocess_daemon(
    config: Mapping[str, Any], families: Mapping[str, Family] | None = None
) -> AsyncIterator[Daemon]:
    """The real daemon in the test's event loop (drivers and simulators can share it)."""
    if families is None:
        families, _ = load_families()
    loaded = load_config(None, families, overrides=dict(config))
    daemon = Daemon(loaded, families)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    await wait_until(lambda: daemon.ready_at is not None or task.done(), 10, "daemon ready")
    if task.done():
        task.result()  # raise what stopped it
    try:
        yield daemon
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        if len(os.fsencode(path)) > 100:  # sun_path holds 108 bytes; pytest-xdist's temp paths are long
            path = Path(tempfile.mkdtemp(prefix="notify-")) / path.name
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[dict[str, str]] = []

    def poll(self) -> list[dict[str, str]]:
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return self.messages
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append(fields)

    def close(self) -> None:
        self.sock.close()


RUNNING: list[DaemonProcess] = []  # killed by the conftest fixture if a failed test left them running


class DaemonProcess:
    """``passerelle run`` as a real process, with a notify socket to know when it is READY."""

    def __init__(
        self, config: Mapping[str, Any], workdir: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "config.toml"
        self.config_path.write_text(to_toml(config))
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.notify: NotifySocket | None = None
        self.log_path = workdir / "daemon.log"
        self.started_at = 0.0

    def start(self, extra_args: list[str] | None = None) -> None:
        notify_path = self.workdir / f"notify-{time.monotonic_ns()}.sock"
        self.notify = NotifySocket(notify_path)
        env = {**os.environ, "NOTIFY_SOCKET": str(self.notify.path), "PYTHONFAULTHANDLER": "1", **self.env}
        self.started_at = time.monotonic()
        self._log = self.log_path.open("ab")
        RUNNING.append(self)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "passerelle.daemon.cli",
                "run",
                "--config",
                str(self.config_path),
                *(extra_args or []),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    async def wait_ready(self, timeout: float = 15.0) -> float:
        """Seconds from start to READY=1."""
        assert self.notify is not None and self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(m.get("READY") == "1" for m in self.notify.poll()):
                return time.monotonic() - self.started_at
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited with {self.process.returncode}: {self.log()}")
            await asyncio.sleep(0.01)
        raise AssertionError(f"daemon not READY within {timeout} s: {self.log()}")

    def kill_if_running(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    async def stop(self, timeout: float = 20.0) -> int:
        return await self._signal(signal.SIGTERM, timeout)

    async def kill(self) -> int:
        return await self._signal(signal.SIGKILL, 10)

    async def _signal(self, signum: int, timeout: float) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signum)
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"daemon did not exit within {timeout} s after signal {signum}")
            await asyncio.sleep(0.02)
        self._log.close()
        if self.notify is not None:
            self.notify.close()
        return self.process.returncode

    async def wait_exit(self, timeout: float = 20.0) -> int:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError("daemon did not exit")
            await asyncio.sleep(0.02)
        return self.process.returncode
