"""Synthetic test-pattern source: numbered events at a chosen rate, no hardware.

For commissioning ("does a billing front end see events from this station?"), the benchmarks and the
chaos tests. With ``resume`` on, event ids are derived from the station, device id and sequence number
(daemon/event_ids.py: unique across a fleet), and progress is saved only after the core acknowledged the
commit, so a daemon killed at any moment resumes without gaps (a resent event keeps its id: consumers
deduplicate it). Without it, ids are the core's usual UUIDv7.
"""

from passerelle.drivers.synthetic.family import FAMILY

__all__ = ["FAMILY"]
