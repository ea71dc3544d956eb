"""Refusals: 401 before the upgrade, 403 for a foreign origin, 1009 for a big frame, 1013 for a client
that does not read, and repeated bad tokens answered ever later."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from passerelle.daemon.broker import PrivateBroker
from tests.web.helpers import (
    api_url,
    client,
    free_port,
    refused_status,
    request,
    synthetic_seqs,
    web_config,
    web_daemon,
)


async def test_no_token_or_a_wrong_one_is_401_and_a_foreign_origin_403(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    port, metrics_port = free_port(), free_port()
    config = web_config(broker.port, tmp_path, port, allowed_origins=["http://billing.example:8080"])
    config["metrics"] = {"enabled": True, "port": metrics_port}
    async with web_daemon(config) as daemon:
        assert await refused_status(api_url(port, token=None)) == 401
        assert await refused_status(api_url(port, token="wrong")) == 401
        assert await refused_status(api_url(port), origin="http://evil.example") == 403
        # A page on another site whose DNS name points at 127.0.0.1 is still another origin.
        assert await refused_status(api_url(port), origin=f"http://rebound.example:{port}") == 403
        async with client(api_url(port), origin="http://billing.example:8080") as allowed:
            await allowed.wait_for(lambda items: bool(items))
        async with client(api_url(port), origin=f"http://127.0.0.1:{port}") as console:
            await console.wait_for(lambda items: bool(items))
        assert daemon.web is not None
        stats = daemon.web.stats()
        assert stats["refused_token"] == 2 and stats["refused_origin"] == 2
        metrics = (await request(metrics_port, "GET", "/metrics")).body.decode()
        assert 'passerelle_web_refused_total{reason="origin"} 2.0' in metrics
        assert 'passerelle_web_refused_total{reason="token"} 2.0' in metrics
        assert "passerelle_web_up 1.0" in metrics


async def test_repeated_bad_tokens_are_answered_ever_later(broker: PrivateBroker, tmp_path: Path) -> None:
    port = free_port()
    async with web_daemon(web_config(broker.port, tmp_path, port)):
        took = []
        for _ in range(5):
            started = time.monotonic()
            assert await refused_status(api_url(port, token="guess")) == 401
            took.append(time.monotonic() - started)
        assert took[4] >= 0.7 > took[0], took  # 0, 0.1, 0.2, 0.4, 0.8 s
        started = time.monotonic()
        async with client(api_url(port)) as frames:  # the right token is not slowed down
            await frames.wait_for(lambda items: bool(items))
        assert time.monotonic() - started < 0.5


async def test_a_frame_over_64_kib_closes_with_1009(broker: PrivateBroker, tmp_path: Path) -> None:
    port = free_port()
    async with web_daemon(web_config(broker.port, tmp_path, port)), client(api_url(port)) as frames:
        big = json.dumps({"topic": "bridge/request/ping", "payload": {"pad": "x" * 70_000}})
        await frames.connection.send(big)
        await frames.wait_for(lambda _: frames.closed_code is not None)
        assert frames.closed_code == 1009


async def test_a_client_that_does_not_read_is_closed_with_1013_while_others_keep_up(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    port = free_port()
    config = web_config(
        broker.port,
        tmp_path,
        port,
        client_queue=256,
        synthetic={"devices": [{"id": "syn", "rate": 1000, "payload_bytes": 2000}]},
    )
    # A client socket with a tiny receive buffer that the test never reads.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    async with web_daemon(config) as daemon, client(api_url(port)) as reader:
        sock.connect(("127.0.0.1", port))
        async with connect(api_url(port), sock=sock, max_queue=1) as idle:
            idle.transport.pause_reading()  # the client stops reading: its kernel buffer fills up
            assert daemon.web is not None
            web = daemon.web
            await reader.wait_for(lambda _: web.hub.stats.closed_slow_total == 1, timeout=60)
            seen = len(synthetic_seqs(reader))
            await reader.wait_for(lambda _: len(synthetic_seqs(reader)) >= seen + 500, timeout=30)
            idle.transport.resume_reading()
            with pytest.raises(ConnectionClosed) as closed:
                await drain(idle)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        seqs = synthetic_seqs(reader)
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # the reading client missed nothing
        await reader.wait_for(lambda _: len(web.hub.clients) == 1)  # the closed one is forgotten


async def drain(connection: ClientConnection) -> None:
    """Read until the connection closes (raises ConnectionClosed then)."""
    while True:
        await connection.recv()
