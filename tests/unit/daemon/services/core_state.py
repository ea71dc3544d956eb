"""The real parts health and the metrics read, built without opening anything (no disk write, no
connection): each test sets the figures it needs on them."""

from __future__ import annotations

from pathlib import Path

from passerelle.daemon.delivery import DeliveryTracker
from passerelle.daemon.driver import Driver, DriverItem
from passerelle.daemon.metrics import EventTallies, Metrics
from passerelle.daemon.outbox import Outbox
from passerelle.daemon.publisher import PublisherStats
from passerelle.daemon.quarantine import QuarantineStore
from passerelle.daemon.sdnotify import Notifier
from passerelle.daemon.services.state import CoreState
from passerelle.daemon.supervisor import Supervisor


async def _sink(driver: Driver, item: DriverItem) -> None:
    return None


def core_state(directory: Path, results: dict[str, int] | None = None) -> CoreState:
    outbox = Outbox(directory / "outbox.sqlite3", max_events=100, max_bytes=10_000, when_full="refuse")
    return CoreState(
        outbox=outbox,
        quarantine=QuarantineStore(outbox.path, outbox),
        broker=PublisherStats(),
        delivery=DeliveryTracker(max_payload_bytes=1000, tries=3, v5=False),
        supervisor=Supervisor(_sink),
        request_results={} if results is None else results,
        notifier=Notifier(address=""),  # outside systemd
    )


def metrics() -> Metrics:
    return Metrics(EventTallies())
