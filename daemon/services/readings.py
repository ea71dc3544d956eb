"""The metrics' readings of the daemon's state, taken at each Prometheus scrape (daemon/metrics.py)."""

from __future__ import annotations

import time

from passerelle.daemon.metrics import DriverReading, Readings
from passerelle.daemon.services.state import CoreState


def metric_readings(state: CoreState) -> Readings:
    """Called from the metrics thread at each scrape: copies, never iterates live collections."""
    stats, outbox = state.broker, state.outbox
    oldest = outbox.oldest_created_at
    return Readings(
        published={"ok": stats.published_total, "failed": stats.failed_total},
        outbox_pending=outbox.count,
        outbox_bytes=outbox.size,
        outbox_oldest_age=time.time() - oldest if oldest else 0.0,
        outbox_full=outbox.full,
        outbox_refused=outbox.refused_total,
        outbox_dropped=outbox.dropped_total,
        outbox_write_errors=outbox.writes.errors_total,
        outbox_writable=not outbox.writes.failing,
        outbox_unstored=outbox.writes.unstored_total,
        outbox_damaged=len(outbox.damage.open_incidents()),
        outbox_quarantined=state.quarantine.count,
        quarantined_total=state.quarantine.quarantined_total,
        too_large_total=state.delivery.refused_too_large,
        mqtt_connected=stats.connected,
        requests=dict(state.request_results),
        request_answers_unpublished=stats.answers_failed,
        sd_notify_dropped=state.notifier.dropped,
        drivers={
            name: DriverReading(up=status.state == "running", restarts=status.restarts)
            for name, status in dict(state.supervisor.status).items()
        },
    )
