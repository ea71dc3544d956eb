"""Helpers of the web endpoint tests: a daemon with the endpoint on a free loopback port, a real
WebSocket client that keeps every frame, and plain HTTP requests."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from passerelle.daemon.app import Daemon
from passerelle.testing.support import base_config, inprocess_daemon

TOKEN = "test-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def web_config(broker_port: int, state_dir: Path, port: int, **web: Any) -> dict[str, Any]:
    extra = {k: v for k, v in web.items() if k in ("synthetic", "mqtt")}
    settings = {"enabled": True, "port": port, "token": TOKEN} | {
        k: v for k, v in web.items() if k not in extra
    }
    config = base_config(broker_port, state_dir, web=settings)
    if "mqtt" in extra:
        config["mqtt"] = {**config["mqtt"], **extra["mqtt"]}
    if "synthetic" in extra:
        config["synthetic"] = extra["synthetic"]
    return config


@contextlib.asynccontextmanager
async def web_daemon(config: dict[str, Any]) -> AsyncIterator[Daemon]:
    async with inprocess_daemon(config) as daemon:
        assert daemon.web is not None and daemon.web.port is not None, daemon.web and daemon.web.problem
        yield daemon


def api_url(port: int, token: str | None = TOKEN, since: str | None = None) -> str:
    query = []
    if token is not None:
        query.append(f"token={token}")
    if since is not None:
        query.append(f"since={since}")
    return f"ws://127.0.0.1:{port}/api" + ("?" + "&".join(query) if query else "")


@dataclass
class Frames:
    """Every frame one client received, in order."""

    connection: ClientConnection
    items: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    closed_code: int | None = None

    def topic(self, topic: str) -> list[Any]:
        return [f["payload"] for f in self.items if f["topic"] == topic]

    async def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.items):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                topics = sorted({f["topic"] for f in self.items})
                raise AssertionError(f"timed out; {len(self.items)} frames on {topics}")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)


@contextlib.asynccontextmanager
async def client(url: str, **options: Any) -> AsyncIterator[Frames]:
    async with connect(url, **options) as connection:
        frames = Frames(connection)

        async def pump() -> None:
            try:
                async for message in connection:
                    frames.items.append(json.loads(message))
                    frames.arrived.set()
            except ConnectionClosed:
                pass  # an error close: its code is read below
            frames.closed_code = connection.close_code
            frames.arrived.set()

        task = asyncio.create_task(pump())
        try:
            yield frames
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _request(port: int, method: str, path: str, headers: dict[str, str]) -> HttpAnswer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        return HttpAnswer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


async def request(port: int, method: str, path: str, headers: dict[str, str] | None = None) -> HttpAnswer:
    return await asyncio.to_thread(_request, port, method, path, headers or {})


def synthetic_seqs(frames: Frames) -> list[int]:
    return [p["data"]["seq"] for p in frames.topic("synthetic")]


def listening_addresses(port: int) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp{,6} shows them) of sockets listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:  # 0A: TCP_LISTEN
                found.append(fields[1])
    return found


def run_cli(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "passerelle.daemon.cli", *args], capture_output=True, text=True, check=True
    ).stdout.strip()


async def refused_status(url: str, **options: Any) -> int:
    """The HTTP status of a WebSocket handshake the server refuses."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, **options):
            pass
    return refused.value.response.status_code
