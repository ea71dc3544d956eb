"""Wires the browser endpoint into the daemon: the journal in the outbox, the fan-out hooks, the console's
support data. Kept out of daemon/app.py so the core stays small; imports the server only when enabled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from passerelle.daemon.journal import Journal

if TYPE_CHECKING:
    from passerelle.daemon.app import Daemon
    from passerelle.daemon.web.server import WebServer


def attach_web(daemon: Daemon) -> WebServer | None:
    settings = daemon.settings
    web = settings.web
    if not web.enabled:
        return None
    from passerelle.daemon.schema import asyncapi, event_schemas, schema_file_name
    from passerelle.daemon.web.metrics import WebCollector
    from passerelle.daemon.web.server import WebServer

    journal: Journal | None = None
    if web.journal_max_events > 0:
        age = web.journal_max_hours * 3600
        journal = Journal(settings.outbox_path, max_events=web.journal_max_events, max_age_seconds=age)
        daemon.outbox.journal = journal

    def schema() -> dict[str, Any]:
        events = event_schemas(daemon.families)
        return {
            "asyncapi": asyncapi(daemon.families),
            "schemas": {schema_file_name(schema_id): body for schema_id, body in events.items()},
        }

    async def support(kind: str) -> Any:
        # The same checks and bundle as the MQTT requests `doctor` and `support-bundle` (remote_ops).
        if kind == "doctor":
            return await daemon.remote.doctor_checks()
        return await daemon.remote.support_document()

    server = WebServer(
        web,
        state_directory=settings.state_directory,
        base_topic=daemon.topics.base,
        retained=daemon.retained,
        router=daemon.router,
        journal=journal,
        schema=schema,
        support=support,
    )
    daemon.outbox.on_committed = server.hub.on_committed
    daemon.retained.on_change = server.hub.on_retained
    daemon.metrics.registry.register(WebCollector(server.stats))
    return server
