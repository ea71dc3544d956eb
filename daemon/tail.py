"""``passerelle tail``: watch what the daemon publishes, pretty-printed."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import aiomqtt

from passerelle.daemon.config import ConfigError, load_config
from passerelle.daemon.family import load_families
from passerelle.daemon.mqtt_options import connection_options, payload_bytes, tls_context

COMPACT_WIDTH = 160


def describe(topic: str, payload: bytes, base: str, compact: bool = False) -> str:
    """One readable line (plus indented JSON, unless ``compact``) for a published message."""
    leaf = topic[len(base) + 1 :] if topic.startswith(base + "/") else topic
    try:
        body: Any = json.loads(payload) if payload else None
    except ValueError:
        return f"{leaf}  {payload[:200]!r}"
    if isinstance(body, dict) and "schema" in body and "data" in body:
        device = (body.get("device") or {}).get("id", "-")
        head = f"{leaf}  [{body['schema']}] device={device}"
        if compact:
            data = json.dumps(body["data"], ensure_ascii=False, separators=(",", ":"))
            return f"{head}  {data[:COMPACT_WIDTH]}{'…' if len(data) > COMPACT_WIDTH else ''}"
        return f"{head} id={body.get('event_id')}\n" + _indent(body["data"])
    return f"{leaf}  " + json.dumps(body, ensure_ascii=False)


def _indent(data: Any) -> str:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return "\n".join("    " + line for line in text.splitlines())


async def _tail(
    connection: dict[str, Any], base: str, families: list[str] | None, raw: bool, count: int | None
) -> None:
    seen = 0
    async with aiomqtt.Client(**connection) as client:
        await client.subscribe(f"{base}/#", qos=1)
        async for message in client.messages:
            topic = str(message.topic)
            payload = payload_bytes(message)
            if families and not _matches(payload, families):
                continue
            line = f"{topic} {payload.decode(errors='replace')}" if raw else describe(topic, payload, base)
            print(line, flush=True)
            seen += 1
            if count is not None and seen >= count:
                return


def _matches(payload: bytes, families: list[str]) -> bool:
    try:
        body = json.loads(payload)
    except ValueError:
        return False
    device = body.get("device") if isinstance(body, dict) else None
    return isinstance(device, dict) and device.get("family") in families


def tail(args: argparse.Namespace) -> int:
    host, port, base = args.host, args.port, args.base
    connection: dict[str, Any] = {}
    if host is None or port is None or base is None:
        families, _ = load_families()
        try:
            settings = load_config(args.config, families).settings
        except ConfigError as exc:
            print("\n".join(exc.problems), file=sys.stderr)
            return 78
        # The station's own credentials and TLS settings: a broker that wants them refuses us otherwise.
        connection = connection_options(settings.mqtt, tls_context(settings.mqtt.tls))
        host = host or connection["hostname"]  # the first of mqtt.servers
        port = port or connection["port"]
        base = base or settings.base_topic
    connection.update(hostname=host, port=port)
    try:
        asyncio.run(_tail(connection, base, args.family, args.raw, args.count))
    except KeyboardInterrupt:
        return 0
    except aiomqtt.MqttError as exc:
        print(f"cannot subscribe on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0
