"""STR.edf signal labels across ResMed generations and languages.

AirSense 10/11 write ``MaskOn``, ``Leak.95``…; S9 machines older labels (``Mask On``, ``Leak 95``…),
and French S9 machines French ones (``Fuites``, ``IAH``, ``Pres. prescrite``…). A label maps to the
canonical name whose prefix it starts with, case-insensitively; the longest prefix wins, so
``Fuites 95`` is leak_95 while a bare ``Fuites`` is the median leak.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

PREFIXES: dict[str, tuple[str, ...]] = {
    "date": ("date",),
    "mask_on": ("maskon", "mask on", "masque on"),
    "mask_off": ("maskoff", "mask off", "masque off"),
    "mask_events": ("maskevents", "mask events", "masque ev"),
    "duration": ("duration", "mask dur", "durée masque", "duree masque"),
    "on_duration": ("onduration",),
    "patient_hours": ("patienthours", "patient hours", "heures patient"),
    "mode": ("mode",),
    "ahi": ("ahi", "iah"),
    "leak_50": ("leak.50", "leak med", "fuites", "fuite med", "fuites med"),
    "leak_70": ("leak.70", "leak 70", "fuites 70"),
    "leak_95": ("leak.95", "leak 95", "fuites 95", "fuite 95"),
    "leak_max": ("leak.max", "leak max", "fuites max", "fuite max"),
    "set_pressure": ("s.c.press", "set pressure", "pres. prescrite"),
    "max_pressure": ("s.as.maxpress", "max pressure", "pression max"),
    "epr_level": ("s.epr.level", "epr level", "niveau epr"),
    "crc16": ("crc16",),
}

_TABLE = sorted(((p, name) for name, ps in PREFIXES.items() for p in ps), key=lambda x: -len(x[0]))


def canonical(label: str) -> str | None:
    low = label.strip().lower()
    for prefix, name in _TABLE:
        if low.startswith(prefix):
            return name
    return None


def map_labels(labels: Iterable[str]) -> dict[str, int]:
    """Canonical name -> index of the first signal carrying it."""
    found: dict[str, int] = {}
    for i, label in enumerate(labels):
        name = canonical(label)
        if name is not None and name not in found:
            found[name] = i
    return found


@lru_cache(maxsize=64)
def map_header_labels(raw_labels: bytes) -> dict[str, int]:
    """Same as :func:`map_labels` from the raw 16-byte label fields of an EDF header (cached: every
    card of a fleet model has the same header)."""
    labels = [raw_labels[i : i + 16].decode("latin-1") for i in range(0, len(raw_labels), 16)]
    return map_labels(labels)
