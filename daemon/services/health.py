"""``bridge/health``: green, yellow or red, with the problems that make it so, and the figures behind.

Red: events are at risk (outbox full, a disk refusing writes, damage not acknowledged). Yellow: the
station works but an operator should look (broker unreachable, quarantine, a driver down, metrics or
web endpoint unavailable). The ``health`` request gets the whole report; the retained topic a stable
summary, republished whenever one of its sources signals a change (and by the daemon's status loop).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from passerelle.daemon.metrics import Metrics
from passerelle.daemon.outbox_health import outbox_problems, outbox_trouble
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.services.state import CoreState
from passerelle.daemon.topics import Topics

# The retained summary: the report without its per-driver, per-request and web details.
SUMMARY_DROPS = ("drivers", "requests", "web")
SUMMARY_OUTBOX = ("full", "refused", "dropped", "write_error", "unstored", "damage", "quarantined")


class WebStatus(Protocol):
    """What health reads of the web endpoint (daemon/web/server.py's WebServer)."""

    @property
    def problem(self) -> str | None: ...

    def stats(self) -> dict[str, Any]: ...


@dataclass(kw_only=True, slots=True)
class BridgeHealth:
    topics: Topics
    retained: RetainedStore
    state: CoreState
    metrics: Metrics  # its endpoint's problem
    web: WebStatus | None

    def problems(self) -> tuple[str, list[str]]:
        """The status and the problems, worst first: red ones, then yellow ones."""
        outbox, broker = self.state.outbox, self.state.broker
        red: list[str] = []
        if outbox.full:
            red.append(f"outbox full ({outbox.count} events); policy {outbox.when_full}")
        red += outbox_problems(outbox)
        yellow: list[str] = []
        if self.state.quarantine.problem:
            yellow.append(self.state.quarantine.problem)
        if not broker.connected:
            yellow.append(
                f"broker not connected ({broker.last_error or 'connecting'}): "
                "events are stored and will be published on reconnect"
            )
        if self.metrics.problem:
            yellow.append(self.metrics.problem)
        if self.web is not None and self.web.problem:
            yellow.append(self.web.problem)
        for name, status in self.state.supervisor.status.items():
            if status.state in ("backoff", "disabled"):
                yellow.append(f"driver {name} {status.state}: {status.last_error}")
        return ("red" if red else "yellow" if yellow else "green"), red + yellow

    def report(self) -> dict[str, Any]:
        status, problems = self.problems()
        state = self.state
        outbox, broker = state.outbox, state.broker
        oldest = outbox.oldest_created_at
        return {
            "status": status,
            "problems": problems,
            "broker": {
                "connected": broker.connected,
                "server": broker.server,  # in use, or being tried when not connected
                "connects": broker.connects_total,
                "last_error": broker.last_error,
                # MQTT 5 brokers may cap the publishes in flight below mqtt.max_inflight.
                "receive_maximum": broker.broker_receive_maximum,
            },
            "outbox": {
                "pending": outbox.count,
                "bytes": outbox.size,
                "full": outbox.full,
                "oldest_age_seconds": round(time.time() - oldest, 3) if oldest else 0.0,
                "refused": outbox.refused_total,
                "dropped": outbox.dropped_total,
                **outbox_trouble(outbox),
                "quarantined": state.quarantine.count,
                "too_large": state.delivery.refused_too_large,
            },
            "drivers": {name: s.as_dict() for name, s in self.state.supervisor.status.items()},
            # Hostile or broken requests cost only their answer; they show here, not as a problem.
            "requests": {
                "results": dict(state.request_results),
                "answers_unpublished": broker.answers_failed,
            },
            "sd_notify_dropped": state.notifier.dropped,
            **({"web": self.web.stats()} if self.web is not None else {}),
        }

    def summary(self) -> dict[str, Any]:
        """What the retained topic shows: stable between changes; the request gives the details."""
        health = self.report()
        for detail in SUMMARY_DROPS:
            health.pop(detail, None)
        health["outbox"] = {k: health["outbox"][k] for k in SUMMARY_OUTBOX}
        return health

    def publish(self, *_: object) -> None:
        """Republish the retained summary (unchanged payloads are not sent again). Takes and ignores
        whatever the signal it listens to carries."""
        self.retained.set(self.topics.health, json.dumps(self.summary(), sort_keys=True).encode())
