"""What health shows of the outbox's own troubles: a disk refusing writes, damage not yet acknowledged."""

from __future__ import annotations

from typing import Any

from passerelle.daemon.outbox import Outbox


def outbox_problems(outbox: Outbox) -> list[str]:
    """Health problems (each one turns health red)."""
    problems = []
    if outbox.writes.failing:
        problems.append(
            f"outbox cannot write to its disk: {outbox.writes.error}; events wait in memory "
            "(bounded) and the commit is retried"
        )
    problems += [
        f"{incident.describe()}; acknowledge with 'passerelle outbox-damage ack'"
        for incident in outbox.damage.open_incidents()
    ]
    return problems


def outbox_trouble(outbox: Outbox) -> dict[str, Any]:
    """The fields added to health's ``outbox`` object."""
    return {
        "write_error": outbox.writes.error,
        "write_errors": outbox.writes.errors_total,
        "unstored": outbox.writes.unstored_total,
        "damage": [incident.describe() for incident in outbox.damage.open_incidents()],
    }
