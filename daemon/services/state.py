"""The parts of the daemon whose figures both health and the metrics show, read when they report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from passerelle.daemon.delivery import DeliveryTracker
from passerelle.daemon.outbox import Outbox
from passerelle.daemon.publisher import PublisherStats
from passerelle.daemon.quarantine import QuarantineStore
from passerelle.daemon.sdnotify import Notifier
from passerelle.daemon.supervisor import Supervisor


@dataclass(frozen=True, slots=True)
class CoreState:
    outbox: Outbox
    quarantine: QuarantineStore
    broker: PublisherStats
    delivery: DeliveryTracker  # its count of events refused as too large
    supervisor: Supervisor
    request_results: Mapping[str, int]  # bridge requests answered, by result
    notifier: Notifier  # its count of dropped systemd notifications
