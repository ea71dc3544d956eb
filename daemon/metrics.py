"""Prometheus metrics (names and labels per docs/operations.md). Labels come only from bounded sets:
family, driver instance name, result. Never a barcode, card or patient value."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Info, start_http_server
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from daemon import __version__

log = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class EventTotals(Collector):
    """The per-event metrics, kept as plain numbers and read at scrape time.

    prometheus-client takes a lock on every increment, and at thousands of events a second those locks
    were a visible share of the event loop. The event loop is the only writer; a scrape, from the
    metrics thread, reads the numbers as they are at that moment.
    """

    def __init__(self) -> None:
        self.received: dict[str, int] = {}  # by family
        self.latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.latency_sum = 0.0
        # Publish results ("ok", "failed") are counted by the publisher; the daemon plugs them in.
        self.publish_results: Callable[[], Mapping[str, int]] = dict

    def count_received(self, family: str) -> None:
        self.received[family] = self.received.get(family, 0) + 1

    def observe_latency(self, seconds: float) -> None:
        self.latency_counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1  # "le" buckets
        self.latency_sum += seconds

    def collect(self) -> Iterator[Metric]:
        received = CounterMetricFamily(
            "passerelle_events_received", "Events received from drivers", labels=["family"]
        )
        for family, total in sorted(dict(self.received).items()):  # a copy: a family may appear meanwhile
            received.add_metric([family], total)
        yield received
        published = CounterMetricFamily(
            "passerelle_events_published", "Outbox events published, by result", labels=["result"]
        )
        for result, total in sorted(self.publish_results().items()):
            published.add_metric([result], total)
        yield published
        counts, cumulative, buckets = list(self.latency_counts), 0, []
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), cumulative))
        yield HistogramMetricFamily(
            "passerelle_publish_latency_seconds",
            "From the hand-over by a driver to the broker PUBACK",
            buckets=buckets,
            sum_value=self.latency_sum,
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.build = Info("passerelle_build", "Build information", registry=r)
        self.build.info({"version": __version__})
        self.events = EventTotals()
        r.register(self.events)
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
