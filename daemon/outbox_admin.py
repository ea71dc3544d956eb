"""Operators' hands on the outbox quarantine: the ``outbox`` bridge request and ``passerelle outbox``.

Request ``<base>/bridge/request/outbox`` with ``{"action": "list"}``, or ``{"action": "retry" |
"discard", "seq": [12, 13]}`` (or ``"all": true``; naming nothing is an error, so that an empty request
never discards everything).

The command line uses the same actions. The running daemon holds the outbox's lock, and a second
writer numbering rows behind its back would break its accounting: so while the daemon runs, the
command sends the request over MQTT (with the station's broker settings) and prints the answer; when
the daemon is stopped, it takes the lock itself and works on the database directly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import sqlite3
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import aiomqtt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from passerelle.daemon import quarantine
from passerelle.daemon.config import EX_CONFIG, ConfigError, CoreSettings, load_config
from passerelle.daemon.driver import RequestError, RequestHandler
from passerelle.daemon.family import load_families
from passerelle.daemon.mqtt_options import connection_options, payload_bytes, tls_context
from passerelle.daemon.quarantine import QuarantineStore, Selection
from passerelle.daemon.topics import Topics

COMMAND = "outbox"
EX_UNAVAILABLE = 69
EX_CANTCREAT = 73
ANSWER_TIMEOUT = 15.0


class OutboxRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    action: Literal["list", "retry", "discard"]
    seq: list[int] | int | None = None
    all: bool = False
    limit: int = Field(100, ge=1, le=100_000)

    def selection(self) -> Selection:
        if self.all and self.seq is not None:
            raise RequestError("invalid_request", "give either seq or all, not both")
        if self.all:
            return "all"
        if self.seq is None:
            raise RequestError("invalid_request", f"{self.action}: name the events with seq, or all: true")
        return [self.seq] if isinstance(self.seq, int) else self.seq


def parse(body: Mapping[str, Any]) -> OutboxRequest:
    try:
        return OutboxRequest.model_validate(dict(body))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "request"
        raise RequestError("invalid_request", f"{where}: {first['msg']}") from None


def request_handler(store: QuarantineStore) -> RequestHandler:
    async def outbox(body: Mapping[str, Any]) -> Any:
        request = parse(body)
        if request.action == "list":
            events = await store.events(request.limit)
            return {"count": store.count, "events": [e.as_dict() for e in events]}
        selection = request.selection()
        if request.action == "discard":
            return {"discarded": await store.discard(selection), "count": store.count}
        retried, error = await store.retry(selection)
        return {"retried": retried, "error": error, "count": store.count}

    return outbox


# -- the command line ----------------------------------------------------------------------------


@contextlib.contextmanager
def _database_if_stopped(path: Path) -> Iterator[sqlite3.Connection | None]:
    """The database, with the daemon's lock held; None while a daemon holds it."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        db = quarantine.connect(path)
        try:
            yield db
        finally:
            db.close()
    finally:
        os.close(fd)  # releases the lock


def _offline(db: sqlite3.Connection, request: OutboxRequest) -> dict[str, Any]:
    if request.action == "list":
        events = quarantine.list_events(db, request.limit)
        return {"count": quarantine.summary(db)[0], "events": [e.as_dict() for e in events]}
    selection = request.selection()
    if request.action == "discard":
        gone = quarantine.discard(db, selection)
        return {"discarded": gone, "count": quarantine.summary(db)[0]}
    back = quarantine.requeue(db, selection)
    return {"retried": back, "error": None, "count": quarantine.summary(db)[0]}


async def _ask_daemon(settings: CoreSettings, body: dict[str, Any]) -> dict[str, Any]:
    topics = Topics(settings.base_topic)
    transaction = uuid.uuid4().hex
    connection = connection_options(settings.mqtt, tls_context(settings.mqtt.tls))
    async with aiomqtt.Client(**connection, identifier=f"passerelle-outbox-{transaction[:8]}") as client:
        await client.subscribe(topics.response(COMMAND), qos=1)
        request = json.dumps({**body, "transaction": transaction}).encode()
        await client.publish(f"{topics.base}/bridge/request/{COMMAND}", request, qos=1)
        async with asyncio.timeout(ANSWER_TIMEOUT):
            async for message in client.messages:
                answer = json.loads(payload_bytes(message))
                if isinstance(answer, dict) and answer.get("transaction") == transaction:
                    return answer
    raise aiomqtt.MqttError("the broker closed the connection before the daemon answered")


def cmd_outbox(args: argparse.Namespace) -> int:
    families, _ = load_families()
    try:
        settings = load_config(args.config, families).settings
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return EX_CONFIG
    body: dict[str, Any] = {"action": args.action, "limit": args.limit}
    if args.seq:
        body["seq"] = args.seq
    if args.all:
        body["all"] = True
    path = settings.outbox_path
    if not path.exists():
        print(f"no outbox at {path}: nothing stored, nothing quarantined", file=sys.stderr)
        return 0 if args.action == "list" else 1
    try:
        request = parse(body)
        if request.action != "list":
            request.selection()  # a request naming no event is refused here, daemon running or not
        with _database_if_stopped(path) as db:
            if db is not None:
                print(json.dumps(_offline(db, request), indent=2))
                return 0
    except RequestError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    except (sqlite3.Error, OSError) as exc:
        print(f"outbox {path} cannot be used: {exc}", file=sys.stderr)
        return EX_CANTCREAT
    try:
        answer = asyncio.run(_ask_daemon(settings, body))
    except (aiomqtt.MqttError, TimeoutError) as exc:
        where = f"{settings.mqtt.host}:{settings.mqtt.port}"
        print(f"the daemon holds the outbox, and asking it via {where} failed: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    if answer.get("status") != "ok":
        print(json.dumps(answer.get("error"), indent=2), file=sys.stderr)
        return 1
    print(json.dumps(answer.get("data"), indent=2))
    return 0
