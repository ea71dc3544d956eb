"""French CPAP observance rules, as pure functions over daily usage.

Everything is counted in whole minutes (integers): the thresholds are 112 h = 6720 min and
56 h = 3360 min, compared exactly, so 111.98 h (6719 min) is TL2 and never rounds up to TL1.

Days are ResMed days: a day labelled D runs from noon on D to noon on D+1 and holds the night that
starts on the evening of D. Periods are 28 calendar days anchored on the start of coverage. A night
that straddles the boundary between two periods (the evening of the last day of period k and the
morning of the first day of period k+1) is attributed by one of two documented rules:

* ``resmed_day`` (default): the whole ResMed day goes to the period that contains its label date, so
  the night belongs to the period in which it started (how the device and AirView count it);
* ``calendar_midnight``: the minutes after midnight move to the next calendar day, hence to the next
  period. Needs the session times (STR.edf MaskOn/MaskOff); days without them fall back to
  ``resmed_day``.

Sources: arrêté du 13 décembre 2017 (PPC forfaits 9.TL*/9.NT*, 28-day periods, renewal without
prior approval when >= 112 h in at least 10 of the last 12 periods and >= 56 h in the other 2).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Literal

from passerelle.drivers.cpap.plausibility import ExcludedDay

PERIOD_DAYS = 28
RENEWAL_PERIODS = 12
RENEWAL_GOOD_PERIODS = 10
TL1_MINUTES = 112 * 60
TL2_MINUTES = 56 * 60
DAILY_TARGET_MINUTES = 4 * 60
MIDNIGHT_OFFSET = 12 * 60  # minutes after noon

BoundaryRule = Literal["resmed_day", "calendar_midnight"]


@dataclass(slots=True)  # not frozen: a frozen __init__ costs 4x, and a year of days is built per card
class DayUsage:
    """One ResMed day (noon to noon, labelled by the date of its first noon). Treat as immutable."""

    day: date
    usage_minutes: int
    sessions: int = 0
    ahi: float | None = None  # events/h
    leak_95: float | None = None  # L/min
    # Minutes of use after midnight (the morning part); None when the session times are unknown.
    after_midnight_minutes: int | None = None


class Tier(StrEnum):
    TL1 = "TL1"
    TL2 = "TL2"
    TL3 = "TL3"
    NT1 = "NT1"
    NT2 = "NT2"
    NT3 = "NT3"


@dataclass(frozen=True, slots=True)
class Forfait:
    tier: str
    label: str
    lpp_code: str
    associated_code: str
    weekly_tariff_eur: str | None


@cache
def forfaits() -> dict[str, Forfait]:
    """The LPP data table (drivers/cpap/lpp_codes.json): codes and tariffs live in data, not code."""
    raw: dict[str, Any] = json.loads(resources.files(__package__).joinpath("lpp_codes.json").read_text())
    table: dict[str, Forfait] = {}
    for tier, row in raw["forfaits"].items():
        tariff = row.get("weekly_tariff_eur")
        table[tier] = Forfait(
            tier=tier,
            label=row["label"],
            lpp_code=row["lpp_code"],
            associated_code=row["associated_code"],
            weekly_tariff_eur=None if tariff is None else str(tariff),
        )
    return table


def tier_for(minutes: int, *, telemonitored: bool = True) -> Tier:
    """Forfait level of one 28-day period from its use in whole minutes."""
    level = 1 if minutes >= TL1_MINUTES else 2 if minutes >= TL2_MINUTES else 3
    return Tier(f"{'TL' if telemonitored else 'NT'}{level}")


def format_hours(minutes: int) -> str:
    """Hours with two decimals, truncated (never rounds 111.999 h up to "112.00")."""
    return f"{minutes // 60}.{(minutes % 60) * 100 // 60:02d}"


@dataclass(frozen=True, slots=True)
class Period:
    index: int
    start: date
    end: date  # inclusive: start + 27 days
    minutes: int
    days_with_data: int
    days_at_least_4h: int
    tier: Tier
    lpp_code: str
    complete: bool  # the data covers the period's last day
    days_excluded: tuple[ExcludedDay, ...] = ()  # implausible days in the period, counted as no data

    @property
    def hours(self) -> str:
        return format_hours(self.minutes)


class RenewalStatus(StrEnum):
    ELIGIBLE = "eligible"  # renewal without prior approval
    DAP_REQUIRED = "dap_required"  # the prescriber must file a DAP on Amelipro
    INSUFFICIENT_HISTORY = "insufficient_history"  # fewer than 12 complete periods: DAP required


@dataclass(frozen=True, slots=True)
class Renewal:
    status: RenewalStatus
    periods_considered: int
    periods_at_least_112h: int
    periods_at_least_56h: int
    window_start: date | None
    window_end: date | None
    reason: str

    @property
    def eligible(self) -> bool:
        return self.status is RenewalStatus.ELIGIBLE


class AlertLevel(StrEnum):
    NONE = "none"  # no prescription end configured
    OK = "ok"
    DUE_SOON = "due_soon"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class PrescriptionAlert:
    level: AlertLevel
    prescription_end: date | None
    days_left: int | None
    message: str


def compute_periods(
    days: Sequence[DayUsage],
    *,
    start: date | None = None,
    data_end: date | None = None,
    telemonitored: bool = True,
    rule: BoundaryRule = "resmed_day",
    excluded: Sequence[ExcludedDay] = (),
) -> list[Period]:
    """Split usage into 28-day periods from ``start`` (default: first day of data).

    ``data_end`` is the last day the data covers (default: the last day present); a period is
    complete when its last day is on or before it. Days without a record count as zero use (the
    machine was off or the card has no record). Days before ``start`` are outside coverage.
    ``excluded`` days (implausible figures, left out of ``days`` by the reader) also count as zero
    use; each period lists those it holds, with the reason.
    """
    if not days and not excluded:
        return []
    ordinals = [d.day.toordinal() for d in days]
    covered = ordinals + [x.day.toordinal() for x in excluded]  # an excluded day is still a day read
    anchor = start if start is not None else date.fromordinal(min(covered))
    last = data_end if data_end is not None else date.fromordinal(max(covered))
    if last < anchor:
        return []
    base = anchor.toordinal()
    n_periods = (last.toordinal() - base) // PERIOD_DAYS + 1
    span = n_periods * PERIOD_DAYS
    # Dense per-day arrays over the covered span (index = days since the anchor).
    minutes = [0] * (span + 1)
    present = [0] * span
    good = [0] * span
    for d, o in zip(days, ordinals, strict=True):
        i = o - base
        late = 0
        if rule == "calendar_midnight" and d.after_midnight_minutes is not None:
            late = min(d.after_midnight_minutes, d.usage_minutes)
        if 0 <= i < span:
            minutes[i] += d.usage_minutes - late
            present[i] = 1
            good[i] = 1 if d.usage_minutes >= DAILY_TARGET_MINUTES else 0
        if late and -1 <= i < span:
            minutes[i + 1] += late
    table = forfaits()
    periods: list[Period] = []
    for k in range(n_periods):
        lo, hi = k * PERIOD_DAYS, (k + 1) * PERIOD_DAYS
        total = sum(minutes[lo:hi])
        tier = tier_for(total, telemonitored=telemonitored)
        p_start = date.fromordinal(base + lo)
        p_end = date.fromordinal(base + hi - 1)
        periods.append(
            Period(
                index=k,
                start=p_start,
                end=p_end,
                minutes=total,
                days_with_data=sum(present[lo:hi]),
                days_at_least_4h=sum(good[lo:hi]),
                tier=tier,
                lpp_code=table[tier.value].lpp_code,
                complete=p_end <= last,
                days_excluded=tuple(x for x in excluded if p_start <= x.day <= p_end),
            )
        )
    return periods


def renewal_decision(periods: Sequence[Period]) -> Renewal:
    """Renewal without DAP iff, over the last 12 complete periods, >= 112 h in at least 10 of them
    and >= 56 h in all 12 (i.e. the other 2 have at least 56 h)."""
    complete = [p for p in periods if p.complete]
    window = complete[-RENEWAL_PERIODS:]
    n112 = sum(1 for p in window if p.minutes >= TL1_MINUTES)
    n56 = sum(1 for p in window if p.minutes >= TL2_MINUTES)
    if len(window) < RENEWAL_PERIODS:
        status = RenewalStatus.INSUFFICIENT_HISTORY
        reason = f"only {len(window)} complete 28-day periods, {RENEWAL_PERIODS} needed: DAP required"
    elif n112 >= RENEWAL_GOOD_PERIODS and n56 == RENEWAL_PERIODS:
        status = RenewalStatus.ELIGIBLE
        reason = f"{n112}/12 periods >= 112 h and {n56}/12 >= 56 h: renewal without prior approval"
    else:
        status = RenewalStatus.DAP_REQUIRED
        reasons = []
        if n112 < RENEWAL_GOOD_PERIODS:
            reasons.append(f"only {n112}/12 periods >= 112 h (10 needed)")
        if n56 < RENEWAL_PERIODS:
            reasons.append(f"{RENEWAL_PERIODS - n56} period(s) under 56 h (none allowed)")
        reason = "; ".join(reasons) + ": DAP required"
    return Renewal(
        status,
        len(window),
        n112,
        n56,
        window[0].start if window else None,
        window[-1].end if window else None,
        reason,
    )


def prescription_alert(end: date | None, today: date, lead_days: int) -> PrescriptionAlert:
    """Warn ``lead_days`` before a prescription ends (Amelipro has no expiry alert, no back-dating)."""
    if end is None:
        return PrescriptionAlert(AlertLevel.NONE, None, None, "no prescription end configured")
    left = (end - today).days
    if left < 0:
        return PrescriptionAlert(AlertLevel.EXPIRED, end, left, f"prescription ended {-left} day(s) ago")
    if left <= lead_days:
        return PrescriptionAlert(AlertLevel.DUE_SOON, end, left, f"prescription ends in {left} day(s)")
    return PrescriptionAlert(AlertLevel.OK, end, left, f"prescription ends in {left} day(s)")
