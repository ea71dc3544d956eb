"""Prometheus metrics (names and labels per docs/operations.md). Labels come only from bounded sets:
family, driver instance name, result. Never a barcode, card or patient value."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, start_http_server

from daemon import __version__

log = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.build = Info("passerelle_build", "Build information", registry=r)
        self.build.info({"version": __version__})
        self.events_received = Counter(
            "passerelle_events_received_total", "Events received from drivers", ["family"], registry=r
        )
        self.events_published = Counter(
            "passerelle_events_published_total", "Outbox events published, by result", ["result"], registry=r
        )
        self.outbox_pending = Gauge(
            "passerelle_outbox_pending_events", "Events stored, not yet acknowledged", registry=r
        )
        self.outbox_bytes = Gauge("passerelle_outbox_pending_bytes", "Bytes stored in the outbox", registry=r)
        self.outbox_oldest = Gauge(
            "passerelle_outbox_oldest_age_seconds", "Age of the oldest unpublished event", registry=r
        )
        self.outbox_full = Gauge("passerelle_outbox_full", "1 when the outbox is at its bound", registry=r)
        self.outbox_refused = Counter(
            "passerelle_outbox_refused_events_total", "Events refused because the outbox was full", registry=r
        )
        self.outbox_dropped = Counter(
            "passerelle_outbox_dropped_events_total", "Events discarded by the drop_oldest policy", registry=r
        )
        self.publish_latency = Histogram(
            "passerelle_publish_latency_seconds",
            "From the hand-over by a driver to the broker PUBACK",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.driver_up = Gauge("passerelle_driver_up", "1 when the driver runs", ["driver"], registry=r)
        self.driver_restarts = Counter(
            "passerelle_driver_restarts_total", "Driver restarts after a failure", ["driver"], registry=r
        )
        self.mqtt_connected = Gauge(
            "passerelle_mqtt_connected", "1 while connected to the broker", registry=r
        )

    def serve(self, address: str, port: int) -> None:
        start_http_server(port, addr=address, registry=self.registry)
        log.info("metrics on http://%s:%d/metrics", address, port)
