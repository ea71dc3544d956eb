"""Observance engine: hand-checked boundaries and properties."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from passerelle.drivers.cpap.observance import (
    AlertLevel,
    DayUsage,
    RenewalStatus,
    Tier,
    compute_periods,
    forfaits,
    format_hours,
    prescription_alert,
    renewal_decision,
    tier_for,
)

START = date(2025, 1, 6)


def flat(minutes_per_period: list[int], start: date = START) -> list[DayUsage]:
    """28 days per period; the period's minutes spread over its days, remainder on the first day."""
    days = []
    for k, total in enumerate(minutes_per_period):
        base, extra = divmod(total, 28)
        for i in range(28):
            day = start + timedelta(days=28 * k + i)
            days.append(DayUsage(day, base + (extra if i == 0 else 0), sessions=1))
    return days


def test_exactly_112_hours_is_tl1() -> None:
    periods = compute_periods(flat([112 * 60]))
    assert periods[0].minutes == 6720
    assert periods[0].tier is Tier.TL1
    assert periods[0].lpp_code == "1187880"
    assert periods[0].hours == "112.00"


def test_111_98_hours_is_tl2_not_rounded_up() -> None:
    # 111.98 h is not a whole number of minutes; the closest count, 6719 min, is 111.983 h.
    periods = compute_periods(flat([6719]))
    assert periods[0].tier is Tier.TL2
    assert periods[0].lpp_code == "1115455"
    assert periods[0].hours == "111.98"
    assert format_hours(6719) == "111.98"


def test_56_hours_boundaries() -> None:
    assert tier_for(3360) is Tier.TL2
    assert tier_for(3359) is Tier.TL3
    assert tier_for(3359, telemonitored=False) is Tier.NT3
    assert tier_for(6720, telemonitored=False) is Tier.NT1
    periods = compute_periods(flat([3360, 3359]), telemonitored=False)
    assert [p.tier for p in periods] == [Tier.NT2, Tier.NT3]
    assert [p.lpp_code for p in periods] == ["1162006", "1124112"]


def test_lpp_table_has_every_tier() -> None:
    table = forfaits()
    for tier in Tier:
        assert table[tier.value].label == f"9.{tier.value}"
    assert table["INI"].lpp_code == "1132608"


def test_ten_good_periods_are_eligible_nine_are_not() -> None:
    ten = [6720] * 10 + [3360] * 2
    r = renewal_decision(compute_periods(flat(ten)))
    assert r.status is RenewalStatus.ELIGIBLE
    assert (r.periods_considered, r.periods_at_least_112h, r.periods_at_least_56h) == (12, 10, 12)
    nine = [6720] * 9 + [3360] * 3
    r = renewal_decision(compute_periods(flat(nine)))
    assert r.status is RenewalStatus.DAP_REQUIRED
    assert r.periods_at_least_112h == 9
    assert "9/12" in r.reason


def test_one_period_under_56_hours_requires_dap() -> None:
    r = renewal_decision(compute_periods(flat([6720] * 11 + [3359])))
    assert r.status is RenewalStatus.DAP_REQUIRED
    assert (r.periods_at_least_112h, r.periods_at_least_56h) == (11, 11)
    assert "under 56 h" in r.reason


def test_only_last_12_complete_periods_count() -> None:
    # A bad first period is outside the window once 12 later periods are complete.
    days = flat([0] + [6720] * 12)
    r = renewal_decision(compute_periods(days))
    assert r.eligible
    assert r.window_start == START + timedelta(days=28)
    # An incomplete 14th period (a few good days) is not considered.
    extra = [DayUsage(START + timedelta(days=13 * 28 + i), 600) for i in range(5)]
    periods = compute_periods(days + extra)
    assert not periods[-1].complete
    assert periods[-1].minutes == 3000
    assert renewal_decision(periods).window_end == START + timedelta(days=13 * 28 - 1)


def test_incomplete_history_requires_dap() -> None:
    periods = compute_periods(flat([6720] * 11))
    r = renewal_decision(periods)
    assert r.status is RenewalStatus.INSUFFICIENT_HISTORY
    assert r.periods_considered == 11
    assert not r.eligible


def test_incomplete_last_period_and_data_end() -> None:
    days = flat([6720])[:27]  # last day missing
    periods = compute_periods(days)
    assert len(periods) == 1
    assert not periods[0].complete
    # Declaring that the data covers the 28th day (the machine was off) completes it.
    periods = compute_periods(days, data_end=START + timedelta(days=27))
    assert periods[0].complete
    assert periods[0].tier is Tier.TL2  # 27 * 240 = 6480 min


def test_gaps_count_as_zero() -> None:
    days = [DayUsage(START, 500), DayUsage(START + timedelta(days=40), 500)]
    periods = compute_periods(days)
    assert [p.minutes for p in periods] == [500, 500]
    assert [p.days_with_data for p in periods] == [1, 1]
    assert periods[0].complete
    assert not periods[1].complete


def test_anchor_before_and_after_data() -> None:
    days = [DayUsage(START + timedelta(days=i), 300) for i in range(10)]
    periods = compute_periods(days, start=START + timedelta(days=5))
    assert periods[0].start == START + timedelta(days=5)
    assert periods[0].minutes == 5 * 300  # days before coverage are not counted
    periods = compute_periods(days, start=START - timedelta(days=20))
    assert periods[0].end == START + timedelta(days=7)
    assert periods[0].minutes == 8 * 300


def test_leap_day_is_a_day_of_its_period() -> None:
    start = date(2028, 2, 10)
    days = [DayUsage(start + timedelta(days=i), 240) for i in range(28)]
    periods = compute_periods(days)
    assert periods[0].end == date(2028, 3, 8)  # 28 days including 29 February
    assert periods[0].minutes == 6720
    assert periods[0].tier is Tier.TL1
    assert date(2028, 2, 29) in {d.day for d in days}


def test_dst_change_does_not_change_day_count() -> None:
    # 29 March 2026 (Europe/Paris spring forward): periods count calendar days, not 24 h blocks.
    start = date(2026, 3, 15)
    days = [DayUsage(start + timedelta(days=i), 240) for i in range(28)]
    periods = compute_periods(days)
    assert (periods[0].start, periods[0].end) == (date(2026, 3, 15), date(2026, 4, 11))
    assert periods[0].minutes == 6720


def test_boundary_night_rules() -> None:
    # Last day of period 0 has a night of 480 min, 420 of them after midnight.
    last = START + timedelta(days=27)
    days = [DayUsage(START + timedelta(days=i), 240, after_midnight_minutes=200) for i in range(27)]
    days.append(DayUsage(last, 480, after_midnight_minutes=420))
    by_day = compute_periods(days, data_end=last + timedelta(days=1))
    assert by_day[0].minutes == 27 * 240 + 480
    assert by_day[1].minutes == 0
    by_midnight = compute_periods(days, data_end=last + timedelta(days=1), rule="calendar_midnight")
    # Period 0 loses the last morning (420) but gains nothing before START (day START-1 absent).
    assert by_midnight[0].minutes == 27 * 240 + 480 - 420
    assert by_midnight[1].minutes == 420


def test_prescription_alert_levels() -> None:
    end = date(2026, 6, 30)
    assert prescription_alert(end, date(2025, 12, 1), 183).level is AlertLevel.OK
    due = prescription_alert(end, date(2026, 1, 1), 183)
    assert due.level is AlertLevel.DUE_SOON
    assert due.days_left == 180
    assert prescription_alert(end, date(2026, 7, 1), 183).level is AlertLevel.EXPIRED
    assert prescription_alert(None, date(2026, 7, 1), 183).level is AlertLevel.NONE


@given(st.integers(0, 40_320), st.integers(0, 40_320))
def test_tier_monotone_in_minutes(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert int(tier_for(hi).value[-1]) <= int(tier_for(lo).value[-1])


@settings(max_examples=60)
@given(
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 1440), st.integers(0, 720)), max_size=120),
    st.integers(-30, 30),
    st.sampled_from(["resmed_day", "calendar_midnight"]),
)
def test_sum_of_periods_equals_sum_of_days(raw: list[tuple[int, int, int]], shift: int, rule: str) -> None:
    by_day = {START + timedelta(days=o): (m, min(a, m)) for o, m, a in raw}
    days = [DayUsage(d, m, after_midnight_minutes=a) for d, (m, a) in by_day.items()]
    anchor = START + timedelta(days=shift)
    periods = compute_periods(days, start=anchor, rule=rule)  # type: ignore[arg-type]
    if not days:
        assert periods == []
        return
    # Periods cover [anchor, end of last period]; nothing of coverage is lost or double counted.
    if not periods:
        assert max(by_day) < anchor
        return
    covered_end = periods[-1].end
    expected = sum(v for dt, v in _attributed(by_day, rule).items() if anchor <= dt <= covered_end)
    assert sum(p.minutes for p in periods) == expected
    if rule == "resmed_day" and shift <= 0:
        assert sum(p.minutes for p in periods) == sum(m for m, _ in by_day.values())


def _attributed(by_day: dict[date, tuple[int, int]], rule: str) -> dict[date, int]:
    out: dict[date, int] = {}
    for d, (m, a) in by_day.items():
        late = a if rule == "calendar_midnight" else 0
        out[d] = out.get(d, 0) + m - late
        out[d + timedelta(days=1)] = out.get(d + timedelta(days=1), 0) + late
    return out
