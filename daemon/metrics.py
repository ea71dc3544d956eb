"""Prometheus metrics (names and labels per docs/operations.md). Labels come only from bounded sets:
family, driver instance name, result. Never a barcode, card or patient value.

Everything is read from the daemon's own state when Prometheus scrapes, so there is one source for each
number. prometheus-client's Counter and Gauge objects would need copying that state into them, and take
a lock on every increment, which at thousands of events a second was a visible share of the event loop.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Info, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from passerelle.daemon import __version__

log = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


@dataclass(frozen=True, slots=True)
class DriverReading:
    up: bool
    restarts: int


@dataclass(frozen=True, slots=True)
class Readings:
    """The daemon's state as the metrics show it, taken at scrape time."""

    published: Mapping[str, int]  # by result: "ok", "failed"
    outbox_pending: int
    outbox_bytes: int
    outbox_oldest_age: float
    outbox_full: bool
    outbox_refused: int
    outbox_dropped: int
    mqtt_connected: bool
    drivers: Mapping[str, DriverReading]
    requests: Mapping[str, int] = field(default_factory=dict)  # bridge requests by result (code)
    request_answers_unpublished: int = 0
    sd_notify_dropped: int = 0
    outbox_write_errors: int = 0
    outbox_writable: bool = True
    outbox_unstored: int = 0
    outbox_damaged: int = 0
    outbox_quarantined: int = 0
    quarantined_total: int = 0
    too_large_total: int = 0


class EventTallies:
    """Per-event tallies (received events, publish latency), kept here rather than read from elsewhere.

    The event loop is the only writer; a scrape, from the metrics thread, reads them as they are at that
    moment.
    """

    def __init__(self) -> None:
        self.received: dict[str, int] = {}  # by family
        self.latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.latency_sum = 0.0

    def count_received(self, family: str) -> None:
        self.received[family] = self.received.get(family, 0) + 1

    def observe_latency(self, seconds: float) -> None:
        self.latency_counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1  # "le" buckets
        self.latency_sum += seconds

    def observe_published(self, _row: object, seconds: float) -> None:
        """The publisher's ``published`` signal: an event acknowledged ``seconds`` after its hand-over."""
        self.observe_latency(seconds)


class DaemonCollector(Collector):
    """The tallies plus the daemon's readings, taken at each scrape (on the metrics thread)."""

    def __init__(self, tallies: EventTallies, read: Callable[[], Readings] | None) -> None:
        self.tallies = tallies
        self.read = read

    def collect(self) -> Iterator[Metric]:
        tallies = self.tallies
        yield _counter("events_received", "Events received from drivers", dict(tallies.received), "family")
        counts, cumulative, buckets = list(tallies.latency_counts), 0, []
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), cumulative))
        yield HistogramMetricFamily(
            "passerelle_publish_latency_seconds",
            "From the hand-over by a driver to the broker PUBACK",
            buckets=buckets,
            sum_value=tallies.latency_sum,
        )
        if self.read is None:
            return
        r = self.read()
        yield _counter("events_published", "Outbox events published, by result", r.published, "result")
        yield _gauge("outbox_pending_events", "Events stored, not yet acknowledged", r.outbox_pending)
        yield _gauge("outbox_pending_bytes", "Bytes stored in the outbox", r.outbox_bytes)
        yield _gauge("outbox_oldest_age_seconds", "Age of the oldest unpublished event", r.outbox_oldest_age)
        yield _gauge("outbox_full", "1 when the outbox is at its bound", r.outbox_full)
        yield _counter(
            "outbox_refused_events", "Events refused because the outbox was full", r.outbox_refused
        )
        yield _counter(
            "outbox_dropped_events", "Events discarded by the drop_oldest policy", r.outbox_dropped
        )
        yield _counter(
            "outbox_write_errors",
            "Outbox commits the state disk refused (full, read-only…)",
            r.outbox_write_errors,
        )
        yield _gauge(
            "outbox_writable", "0 while the state disk refuses the outbox's writes", r.outbox_writable
        )
        yield _counter(
            "outbox_unstored_events",
            "Events refused because the state disk refused writes (announced on bridge/loss)",
            r.outbox_unstored,
        )
        yield _gauge(
            "outbox_damage_incidents", "Outbox damage incidents not yet acknowledged", r.outbox_damaged
        )
        yield _gauge("outbox_quarantined_events", "Events set aside (quarantine)", r.outbox_quarantined)
        yield _counter("events_quarantined", "Events set aside since the start", r.quarantined_total)
        yield _counter("events_too_large", "Events refused to drivers: too large", r.too_large_total)
        up = {name: int(d.up) for name, d in r.drivers.items()}
        yield _gauge("driver_up", "1 when the driver runs", up, "driver")
        restarts = {name: d.restarts for name, d in r.drivers.items()}
        yield _counter("driver_restarts", "Driver restarts after a failure", restarts, "driver")
        yield _gauge("mqtt_connected", "1 while connected to the broker", r.mqtt_connected)
        yield _counter("requests", "Bridge requests answered, by result", dict(r.requests), "result")
        yield _counter(
            "request_answers_unpublished",
            "Request answers that could not be published",
            r.request_answers_unpublished,
        )
        yield _counter("sd_notify_dropped", "systemd notifications dropped", r.sd_notify_dropped)


def _counter(name: str, doc: str, values: Mapping[str, int] | int, label: str | None = None) -> Metric:
    family = CounterMetricFamily(f"passerelle_{name}", doc, labels=[label] if label else None)
    if isinstance(values, int):
        family.add_metric([], values)
    else:
        for key, value in sorted(values.items()):
            family.add_metric([key], value)
    return family


def _gauge(name: str, doc: str, values: Mapping[str, int] | float, label: str | None = None) -> Metric:
    family = GaugeMetricFamily(f"passerelle_{name}", doc, labels=[label] if label else None)
    if isinstance(values, int | float):
        family.add_metric([], float(values))
    else:
        for key, value in sorted(values.items()):
            family.add_metric([key], value)
    return family


class Metrics:
    """The registry Prometheus scrapes: build info, the daemon's collector, and the ``extra`` collectors
    of optional parts (the web endpoint's), all given at construction."""

    def __init__(
        self,
        tallies: EventTallies,
        read: Callable[[], Readings] | None = None,
        extra: Sequence[Collector] = (),
    ) -> None:
        self.registry = CollectorRegistry()
        Info("passerelle_build", "Build information", registry=self.registry).info({"version": __version__})
        self.collector = DaemonCollector(tallies, read)
        self.registry.register(self.collector)
        for collector in extra:
            self.registry.register(collector)
        self.problem: str | None = None  # the endpoint could not be served: a health problem

    def serve(self, address: str, port: int) -> None:
        """Start the endpoint; a failure is kept in ``problem`` (metrics are for operators, events
        matter more: the daemon keeps running)."""
        try:
            start_http_server(port, addr=address, registry=self.registry)
        except OSError as exc:
            self.problem = f"metrics endpoint {address}:{port}: {exc.strerror or exc}"
            log.error("%s; running without metrics", self.problem)
            return
        log.info("metrics on http://%s:%d/metrics", address, port)
