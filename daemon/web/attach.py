"""Wires the browser endpoint into the daemon: the journal in the outbox, the fan-out signals, the
console's support data, the endpoint's metrics. Kept out of daemon/app.py so the core stays small;
imports the server only when enabled."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from passerelle.daemon.config import CoreSettings
from passerelle.daemon.family import Family
from passerelle.daemon.journal import Journal
from passerelle.daemon.outbox import Outbox
from passerelle.daemon.publisher import Responder
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.topics import Topics

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from passerelle.daemon.web.server import WebServer


def web_journal(settings: CoreSettings) -> Journal | None:
    """The journal the outbox writes for the console's replay (None: web off, or no replay)."""
    web = settings.web
    if not web.enabled or web.journal_max_events <= 0:
        return None
    age = web.journal_max_hours * 3600
    return Journal(settings.outbox_path, max_events=web.journal_max_events, max_age_seconds=age)


def attach_web(
    settings: CoreSettings,
    *,
    families: Mapping[str, Family],
    topics: Topics,
    retained: RetainedStore,
    outbox: Outbox,
    responder: Responder,
    support: Callable[[str], Awaitable[Any]],
) -> WebServer | None:
    """The endpoint (None when web.enabled is false), its hub connected to the outbox's and the
    retained store's signals. ``support``: "doctor" or "bundle" → the same data as the MQTT requests."""
    if not settings.web.enabled:
        return None
    from passerelle.daemon.schema import asyncapi, event_schemas, schema_file_name
    from passerelle.daemon.web.server import WebServer

    def schema() -> dict[str, Any]:
        events = event_schemas(families)
        return {
            "asyncapi": asyncapi(families),
            "schemas": {schema_file_name(schema_id): body for schema_id, body in events.items()},
        }

    server = WebServer(
        settings.web,
        state_directory=settings.state_directory,
        base_topic=topics.base,
        retained=retained,
        router=responder,
        journal=outbox.journal,
        schema=schema,
        support=support,
    )
    outbox.rows_committed.connect(server.hub.on_committed)
    retained.topic_changed.connect(server.hub.on_retained)
    return server


def web_collectors(server: WebServer | None) -> list[Collector]:
    """The endpoint's metrics, for the registry (none without the endpoint)."""
    if server is None:
        return []
    from passerelle.daemon.web.metrics import WebCollector

    return [WebCollector(server.stats)]
