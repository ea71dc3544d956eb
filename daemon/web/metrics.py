"""Prometheus metrics of the browser endpoint, read from its counters at scrape time (like the core's)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class WebCollector(Collector):
    def __init__(self, stats: Callable[[], dict[str, Any]]) -> None:
        self._stats = stats  # WebServer.stats: plain numbers, safe to read from the metrics thread

    def collect(self) -> Iterator[Metric]:
        s = self._stats()
        yield _gauge("web_up", "1 while the browser endpoint listens", int(s["listening"]))
        yield _gauge("web_clients", "Browser clients connected", s["clients"])
        yield _gauge("web_journal_events", "Events replayable with since=", s["journal_events"])
        yield _counter("web_connections", "Browser connections accepted", s["connections"])
        yield _counter("web_frames", "Frames sent to browser clients", s["frames"])
        yield _counter("web_closed_slow", "Browser clients closed with 1013 (not reading)", s["closed_slow"])
        refused = CounterMetricFamily(
            "passerelle_web_refused", "Browser requests refused, by reason", labels=["reason"]
        )
        refused.add_metric(["origin"], s["refused_origin"])
        refused.add_metric(["token"], s["refused_token"])
        yield refused


def _gauge(name: str, doc: str, value: float) -> Metric:
    return GaugeMetricFamily(f"passerelle_{name}", doc, value=float(value))


def _counter(name: str, doc: str, value: int) -> Metric:
    return CounterMetricFamily(f"passerelle_{name}", doc, value=value)
