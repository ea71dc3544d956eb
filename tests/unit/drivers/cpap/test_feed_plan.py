"""The import planner: what a (re-)import publishes, against the ledger."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from passerelle.drivers.cpap.config import CpapSection, Prescription
from passerelle.drivers.cpap.events import DAY_SCHEMA, IMPORT_SCHEMA, PERIOD_SCHEMA, RENEWAL_SCHEMA
from passerelle.drivers.cpap.feed import DeviceBatch, device_id, plan_import
from passerelle.drivers.cpap.ledger import DeviceLedger
from passerelle.drivers.cpap.observance import DayUsage
from passerelle.drivers.cpap.problems import Problem, ProblemCode
from passerelle.drivers.cpap.resmed import Identity

START = date(2025, 1, 6)
TODAY = date(2026, 1, 10)


def batch(days: int = 60, minutes: int = 300) -> DeviceBatch:
    usage = [DayUsage(START + timedelta(days=i), minutes, 1) for i in range(days)]
    return DeviceBatch(Identity("2320ABC", "AirSense 10 AutoSet", "37028"), usage, "PAT-9")


def schemas(plan_events: list[Any]) -> list[str]:
    return [e.schema for e in plan_events]


def run(
    section: CpapSection,
    ledgers: dict[str, DeviceLedger],
    b: DeviceBatch,
    problems: list[Problem] | None = None,
    known_problems: set[str] | None = None,
) -> Any:
    return plan_import(
        [b], problems or [], source="counter", kind="sdcard", section=section, ledgers=ledgers,
        known_problems=known_problems or set(), today=TODAY,
    )  # fmt: skip


def test_first_import_then_nothing_new() -> None:
    section = CpapSection()
    plan = run(section, {}, batch())
    s = schemas(plan.events)
    assert s[0] == s[-1] == IMPORT_SCHEMA
    assert s.count(DAY_SCHEMA) == 60
    assert s.count(PERIOD_SCHEMA) == 2  # two complete periods, the third is incomplete
    assert s.count(RENEWAL_SCHEMA) == 1
    renewal = next(e for e in plan.events if e.schema == RENEWAL_SCHEMA)
    assert renewal.retained_state == "state"
    again = run(section, plan.ledgers, batch())
    assert again.events == []


def test_event_ids_are_deterministic() -> None:
    a = run(CpapSection(), {}, batch())
    b = run(CpapSection(), {}, batch())
    assert [e.event_id for e in a.events] == [e.event_id for e in b.events]
    assert len({e.event_id for e in a.events}) == len(a.events)


def test_changed_day_publishes_that_day_and_its_period() -> None:
    section = CpapSection()
    first = run(section, {}, batch())
    changed = batch()
    changed.days[3] = replace(changed.days[3], usage_minutes=10)
    plan = run(section, first.ledgers, changed)
    days = [e for e in plan.events if e.schema == DAY_SCHEMA]
    assert [e.data.date for e in days] == [START + timedelta(days=3)]
    periods = [e for e in plan.events if e.schema == PERIOD_SCHEMA]
    assert [e.data.minutes for e in periods] == [27 * 300 + 10]
    assert plan.counts.days_changed == 1
    assert plan.counts.days_new == 0


def test_new_days_complete_a_period_and_renewal_changes() -> None:
    section = CpapSection()
    first = run(section, {}, batch(days=12 * 28 - 1))
    assert first.counts.periods_new == 11
    plan = run(section, first.ledgers, batch(days=12 * 28))
    assert schemas(plan.events).count(DAY_SCHEMA) == 1
    assert schemas(plan.events).count(PERIOD_SCHEMA) == 1
    renewal = next(e for e in plan.events if e.schema == RENEWAL_SCHEMA)
    assert renewal.data.status == "eligible"


def test_partial_exports_merge_through_the_ledger() -> None:
    section = CpapSection()
    full = batch(days=56)
    first_half = DeviceBatch(full.identity, full.days[:30], full.patient_ref)
    second_half = DeviceBatch(full.identity, full.days[30:], full.patient_ref)
    a = run(section, {}, first_half)
    b = run(section, a.ledgers, second_half)
    periods = [e.data for e in a.events + b.events if e.schema == PERIOD_SCHEMA]
    assert [p.minutes for p in periods] == [28 * 300, 28 * 300]


def test_prescription_alert_and_anchor() -> None:
    section = CpapSection(
        prescriptions=[
            Prescription(patient_ref="PAT-9", coverage_start=START + timedelta(days=2), end=date(2026, 3, 1))
        ]
    )
    plan = run(section, {}, batch())
    renewal = next(e.data for e in plan.events if e.schema == RENEWAL_SCHEMA)
    assert renewal.prescription_alert == "due_soon"
    assert renewal.days_left == 50
    period = next(e.data for e in plan.events if e.schema == PERIOD_SCHEMA)
    assert period.start == START + timedelta(days=2)


def test_problems_reported_once() -> None:
    section = CpapSection()
    problems = [Problem(ProblemCode.CSV_BAD_ROW, "x.csv", "bad date", line=4)]
    first = run(section, {}, batch(), problems)
    finished = first.events[-1].data
    assert finished.problems[0].line == 4
    assert first.problems_key is not None
    again = run(section, first.ledgers, batch(), problems, known_problems={first.problems_key})
    assert again.events == []


def test_device_ids_are_topic_safe() -> None:
    assert device_id("2320ABC") == "cpap-2320abc"
    assert device_id("SN 12/34") == "cpap-sn-12-34"


def test_datalog_nights_dropping_off_the_card_change_nothing() -> None:
    from passerelle.drivers.cpap.resmed import NightDetail

    section = CpapSection()
    with_detail = batch(days=30)
    with_detail.datalog = {START + timedelta(days=29): NightDetail(1, 300, {"Hypopnea": 2})}
    first = run(section, {}, with_detail)
    day = next(
        e.data for e in first.events if e.schema == DAY_SCHEMA and e.data.date == START + timedelta(days=29)
    )
    assert day.datalog_events == {"Hypopnea": 2}
    assert run(section, first.ledgers, batch(days=30)).events == []  # detail gone: not a change
    richer = batch(days=30)
    richer.datalog = {START + timedelta(days=28): NightDetail(1, 300, {"Apnea": 1})}
    plan = run(section, first.ledgers, richer)
    assert [e.data.date for e in plan.events if e.schema == DAY_SCHEMA] == [START + timedelta(days=28)]


def test_a_status_going_back_is_a_new_event() -> None:
    section = CpapSection()
    good = batch(days=12 * 28, minutes=300)
    a = run(section, {}, good)
    worse = batch(days=12 * 28, minutes=300)
    worse.days[:28] = [replace(d, usage_minutes=100) for d in worse.days[:28]]
    b = run(section, a.ledgers, worse)
    c = run(section, b.ledgers, good)
    ids = [next(e.event_id for e in p.events if e.schema == RENEWAL_SCHEMA) for p in (a, b, c)]
    statuses = [next(e.data.status for e in p.events if e.schema == RENEWAL_SCHEMA) for p in (a, b, c)]
    assert statuses == ["eligible", "dap_required", "eligible"]
    assert len(set(ids)) == 3
    day_ids = [
        e.event_id for p in (a, c) for e in p.events if e.schema == DAY_SCHEMA and e.data.date == START
    ]
    assert len(set(day_ids)) == 2


def test_period_events_list_the_days_left_out() -> None:
    from passerelle.drivers.cpap.plausibility import ExcludedDay

    section = CpapSection(period_start=START)
    honest = batch(days=56)
    bad_day = START + timedelta(days=3)
    reason = "usage 32767 min outside 0..1440"
    flagged = replace(
        honest, days=[d for d in honest.days if d.day != bad_day], excluded=[ExcludedDay(bad_day, reason)]
    )
    plan = run(section, {}, flagged)
    periods = [e.data for e in plan.events if e.schema == PERIOD_SCHEMA]
    assert [(x.date, x.reason) for x in periods[0].days_excluded] == [(bad_day, reason)]
    assert periods[0].minutes == 27 * 300
    assert periods[1].days_excluded == []
    # A period without excluded days keeps the content hash it had before the field existed, so an
    # upgrade does not re-publish every stored period.
    from passerelle.drivers.cpap.feed import content_hash

    p1 = periods[1]
    before = content_hash(p1.model_dump(mode="json", exclude={"patient_ref", "days_excluded"}))
    assert plan.ledgers["2320ABC"].periods[p1.start.isoformat()] == before
