"""Stable event ids: the same id for the same event when a driver publishes it again, never the same id
for events of two stations.

Delivery is at least once and consumers deduplicate on ``event_id``, often for a whole fleet on one
broker or in one store. An id derived only from what a device reports (its configured id, a sequence
number, a CPAP serial and day) repeats on every station that has such a device, and a fleet consumer
would drop one station's events as duplicates of another's. So a derived id always covers the station,
the family and the device as well as the driver's own key.

Across stations the same fact (one CPAP night imported at two counters) is therefore two events with
two ids; a consumer that wants one record per fact keys on the fact itself (device serial and date are
in the data), not on the event id.
"""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("3d0f8f5e-2b0a-4c1e-9a55-5f0c1e7d2a90")


def stable_event_id(station: str, family: str, device_id: str, key: str) -> uuid.UUID:
    """UUIDv5 of the four parts. Station, family and device id are topic levels ([a-z0-9-]), so the
    '/' separator cannot make two different tuples collide; ``key`` comes last and may hold anything."""
    return uuid.uuid5(NAMESPACE, f"{station}/{family}/{device_id}/{key}")
