"""Bounds on what one ResMed day can hold, so that a forged or corrupted record cannot buy a tier.

A record whose Crc16 was recomputed after editing passes the checksum; only the values themselves
can tell. A day outside these bounds is reported as an ``implausible_day`` problem with its reason
and left out of the 28-day periods (it counts as a day without data, and each period lists the days
it excluded), never clipped into range: a clipped forgery would still count.

The bounds come from the machines' own STR.edf scales, read on real AirSense 10, AirSense 11 and
AirCurve 10 cards: Duration and the MaskOn/MaskOff slots span 0..1440 min, AHI 0..240 events/h,
Leak.95 0..2 L/s; AirSense 10 has 10 session slots per day, AirSense 11 has 20. On every used day of
those cards Duration equals the sum of the slots' (off - on) exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

DAY_MINUTES = 24 * 60  # a ResMed day runs noon to noon: no more use than that fits in it
MAX_SLOTS = 20  # session slots per day when the source does not say (AirSense 11: 20)
MAX_AHI = 240.0  # events/h: the top of the STR AHI scale
MAX_LEAK_95 = 120.0  # L/min: the top of the STR Leak.95 scale (2 L/s)
# Minutes Duration may differ from the slot sum: a clock change moves a wall-clock off time by 1 h.
SLOT_SUM_TOLERANCE = 60
EMPTY_SLOT = -1


@dataclass(frozen=True, slots=True)
class ExcludedDay:
    """A day left out of the periods, and why (shown with the period that holds it)."""

    day: date
    reason: str


def slot_minutes(on: int, off: int) -> int:
    """Minutes of one MaskOn/MaskOff slot: an off without an on counts from noon, an on without an
    off runs to the next noon."""
    if on == EMPTY_SLOT and off == EMPTY_SLOT:
        return 0
    return (DAY_MINUTES if off == EMPTY_SLOT else off) - (0 if on == EMPTY_SLOT else on)


def day_problems(
    usage_minutes: int,
    sessions: int,
    ahi: float | None,
    leak_95: float | None,
    slots: Sequence[tuple[int, int]] | None = None,
) -> list[str]:
    """Every reason the figures of one day cannot be real (empty: plausible).

    ``slots`` are the raw (MaskOn, MaskOff) pairs, minutes after noon with -1 for empty, when the
    source has them (STR.edf); an export file has none.
    """
    reasons: list[str] = []
    if not 0 <= usage_minutes <= DAY_MINUTES:
        reasons.append(f"usage {usage_minutes} min outside 0..{DAY_MINUTES}")
    max_sessions = MAX_SLOTS if slots is None else len(slots)
    if not 0 <= sessions <= max_sessions:
        reasons.append(f"{sessions} sessions outside 0..{max_sessions}")
    if slots is not None:
        odd = sorted({v for pair in slots for v in pair if v != EMPTY_SLOT and not 0 <= v <= DAY_MINUTES})
        if odd:
            reasons.append(f"mask on/off time(s) {odd[:3]} outside 0..{DAY_MINUTES} min after noon")
        elif 0 < usage_minutes <= DAY_MINUTES:  # beyond a day is already reason enough
            total = sum(slot_minutes(on, off) for on, off in slots)
            if abs(total - usage_minutes) > SLOT_SUM_TOLERANCE:
                reasons.append(
                    f"usage {usage_minutes} min but its mask on/off sessions add up to {total} min"
                )
    if ahi is not None and not 0.0 <= ahi <= MAX_AHI:
        reasons.append(f"AHI {ahi} outside 0..{MAX_AHI:g} events/h")
    if leak_95 is not None and not 0.0 <= leak_95 <= MAX_LEAK_95:
        reasons.append(f"95th percentile leak {leak_95} outside 0..{MAX_LEAK_95:g} L/min")
    return reasons
