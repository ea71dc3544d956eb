"""From what a card or an export holds to the events still to publish (pure, no I/O).

Event ids are UUIDv5 of (schema, device serial, key, content hash): the same content always gets
the same id, so even a replay after a lost ledger is deduplicated by consumers. The ledger is what
keeps re-imports silent: only new or changed days, newly completed or changed periods and a changed
renewal status produce events.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pydantic import BaseModel

from passerelle.drivers.cpap.config import CpapSection
from passerelle.drivers.cpap.events import (
    DAY_SCHEMA,
    IMPORT_SCHEMA,
    PERIOD_SCHEMA,
    RENEWAL_SCHEMA,
    DayData,
    ExcludedDayData,
    ImportData,
    ImportProblemData,
    PeriodData,
    RenewalData,
)
from passerelle.drivers.cpap.ledger import DeviceLedger
from passerelle.drivers.cpap.observance import (
    DAILY_TARGET_MINUTES,
    DayUsage,
    Period,
    Renewal,
    compute_periods,
    forfaits,
    prescription_alert,
    renewal_decision,
)
from passerelle.drivers.cpap.plausibility import ExcludedDay
from passerelle.drivers.cpap.problems import Problem
from passerelle.drivers.cpap.resmed import Identity, NightDetail

NAMESPACE = uuid.UUID("0f5a3c8e-3b8c-5d0e-9c57-7a3e1f0c2b64")
Kind = Literal["sdcard", "export"]


def device_id(serial: str) -> str:
    """Topic-safe device id from the machine serial (a serial is not a patient identifier)."""
    return "cpap-" + (re.sub(r"[^a-z0-9]+", "-", serial.lower()).strip("-") or "unknown")


def content_hash(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:16]


def day_hash(minutes: int, sessions: int, ahi: float | None, leak: float | None) -> str:
    """Hash of a day's summary (ints, floats and None have a stable repr): the per-day hot path."""
    return hashlib.blake2b(repr((minutes, sessions, ahi, leak)).encode(), digest_size=8).hexdigest()


def event_uuid(source: str, schema: str, serial: str, key: str, digest: str) -> uuid.UUID:
    """Same source, device, key and content: same id. The source is part of it because a card and
    an export of the same day are different events (a consumer must not drop one as a duplicate);
    callers put the previous content hash in ``key`` so that a value going back (eligible ->
    dap_required -> eligible) is a new event, not a duplicate of the first."""
    return uuid.uuid5(NAMESPACE, f"{source}|{schema}|{serial}|{key}|{digest}")


@dataclass(slots=True)
class DeviceBatch:
    identity: Identity
    days: list[DayUsage]
    patient_ref: str | None = None
    datalog: dict[date, NightDetail] = field(default_factory=dict)
    excluded: list[ExcludedDay] = field(default_factory=list)  # implausible days, left out of periods


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    serial: str | None  # None: the event is about the source (import progress)
    schema: str
    data: BaseModel
    event_id: uuid.UUID
    retained_state: str | None = None


@dataclass(slots=True)
class Plan:
    events: list[PlannedEvent]
    ledgers: dict[str, DeviceLedger]  # what the ledger becomes once every event is stored
    problems_key: str | None  # problem-set hash to remember (None: nothing new)
    counts: ImportData


def day_data(d: DayUsage, serial: str, patient: str | None, kind: Kind, night: NightDetail | None) -> DayData:
    return DayData(
        device_serial=serial,
        patient_ref=patient,
        date=d.day,
        usage_minutes=d.usage_minutes,
        sessions=d.sessions,
        ahi=d.ahi,
        leak_95=d.leak_95,
        at_least_4h=d.usage_minutes >= DAILY_TARGET_MINUTES,
        datalog_events=dict(night.events) if night is not None else None,
        source=kind,
    )


def period_data(p: Period, serial: str, patient: str | None, rule: str) -> PeriodData:
    f = forfaits()[p.tier.value]
    return PeriodData(
        device_serial=serial,
        patient_ref=patient,
        index=p.index,
        start=p.start,
        end=p.end,
        minutes=p.minutes,
        hours=float(p.hours),
        tier=p.tier.value,
        forfait=f.label,
        lpp_code=p.lpp_code,
        associated_code=f.associated_code,
        complete=p.complete,
        days_with_data=p.days_with_data,
        days_at_least_4h=p.days_at_least_4h,
        boundary_rule=rule,
        days_excluded=[ExcludedDayData(date=x.day, reason=x.reason) for x in p.days_excluded],
    )


def renewal_data(
    r: Renewal, serial: str, patient: str | None, section: CpapSection, today: date
) -> RenewalData:
    rx = section.prescription_for(serial, patient)
    alert = prescription_alert(rx.end if rx else None, today, section.alert_lead_days)
    return RenewalData(
        device_serial=serial,
        patient_ref=patient,
        status=r.status.value,
        eligible=r.eligible,
        periods_considered=r.periods_considered,
        periods_at_least_112h=r.periods_at_least_112h,
        periods_at_least_56h=r.periods_at_least_56h,
        reason=r.reason,
        window_start=r.window_start,
        window_end=r.window_end,
        prescription_end=alert.prescription_end,
        prescription_alert=alert.level.value,
        days_left=alert.days_left,
        alert_message=alert.message,
    )


def anchor_for(section: CpapSection, serial: str, patient: str | None) -> date | None:
    rx = section.prescription_for(serial, patient)
    if rx is not None and rx.coverage_start is not None:
        return rx.coverage_start
    return section.period_start


def observe(
    days: Sequence[DayUsage],
    section: CpapSection,
    serial: str,
    patient: str | None,
    excluded: Sequence[ExcludedDay] = (),
) -> tuple[list[Period], Renewal]:
    periods = compute_periods(
        days,
        start=anchor_for(section, serial, patient),
        telemonitored=section.telemonitored,
        rule=section.boundary_rule,
        excluded=excluded,
    )
    return periods, renewal_decision(periods)


def plan_import(
    batches: Sequence[DeviceBatch],
    problems: Sequence[Problem],
    *,
    source: str,
    kind: Kind,
    section: CpapSection,
    ledgers: dict[str, DeviceLedger],
    known_problems: set[str],
    today: date,
) -> Plan:
    events: list[PlannedEvent] = []
    new_ledgers: dict[str, DeviceLedger] = {}
    counts = ImportData(source=source, kind=kind, status="finished")
    for batch in batches:
        serial = batch.identity.serial
        counts.devices.append(serial)
        old = ledgers.get(serial, DeviceLedger())
        led = DeviceLedger(
            dict(old.days), dict(old.periods), old.renewal, batch.patient_ref or old.patient_ref
        )
        patient = led.patient_ref
        for d in batch.days:
            counts.days_read += 1
            key = d.day.isoformat()
            night = batch.datalog.get(d.day)
            # The daily summary decides whether a day changed; DATALOG details only add to it: a card
            # whose older DATALOG nights were cleared must not "change" those days.
            core = day_hash(d.usage_minutes, d.sessions, d.ahi, d.leak_95)
            digest = content_hash(core, night.events) if night is not None else core
            previous = led.days.get(key)
            if previous is not None and (previous[3] == digest or (night is None and previous[4] == core)):
                continue
            if previous is None:
                counts.days_new += 1
            else:
                counts.days_changed += 1
            late = -1 if d.after_midnight_minutes is None else d.after_midnight_minutes
            led.days[key] = [d.usage_minutes, late, d.sessions, digest, core]
            data = day_data(d, serial, patient, kind, night)
            after = previous[3] if previous is not None else "-"
            event_id = event_uuid(source, DAY_SCHEMA, serial, f"{key}|{after}", digest)
            events.append(PlannedEvent(serial, DAY_SCHEMA, data, event_id))
        merged = [
            DayUsage(date.fromisoformat(k), v[0], v[2], after_midnight_minutes=None if v[1] < 0 else v[1])
            for k, v in sorted(led.days.items())
        ]
        periods, renewal = observe(merged, section, serial, patient, batch.excluded)
        for p in periods:
            if not p.complete:
                continue
            key = p.start.isoformat()
            pdata = period_data(p, serial, patient, section.boundary_rule)
            # Without excluded days the digest is the one from before days_excluded existed: an
            # upgrade must not re-publish every stored period as changed.
            skip = {"patient_ref"} if pdata.days_excluded else {"patient_ref", "days_excluded"}
            digest = content_hash(pdata.model_dump(mode="json", exclude=skip))
            after = led.periods.get(key)
            if after == digest:
                continue
            led.periods[key] = digest
            counts.periods_new += 1
            events.append(
                PlannedEvent(
                    serial,
                    PERIOD_SCHEMA,
                    pdata,
                    event_uuid(source, PERIOD_SCHEMA, serial, f"{key}|{after or '-'}", digest),
                )
            )
        rdata = renewal_data(renewal, serial, patient, section, today)
        digest = content_hash(
            rdata.model_dump(mode="json", exclude={"days_left", "alert_message", "patient_ref"})
        )
        if led.renewal != digest:
            after = led.renewal or "-"
            led.renewal = digest
            counts.renewal_changed += 1
            events.append(
                PlannedEvent(
                    serial,
                    RENEWAL_SCHEMA,
                    rdata,
                    event_uuid(source, RENEWAL_SCHEMA, serial, f"renewal|{after}", digest),
                    "state",
                )
            )
        new_ledgers[serial] = led
    counts.problems = [
        ImportProblemData(code=p.code.value, file=p.file, line=p.line, message=p.message) for p in problems
    ]
    problems_key = content_hash(source, [p.model_dump() for p in counts.problems]) if problems else None
    new_problems = problems_key is not None and problems_key not in known_problems
    if events or new_problems:
        key = content_hash([str(e.event_id) for e in events], problems_key)
        started = counts.model_copy(update={"status": "started", "problems": []})
        events.insert(
            0,
            PlannedEvent(None, IMPORT_SCHEMA, started, event_uuid(source, IMPORT_SCHEMA, "", "started", key)),
        )
        events.append(
            PlannedEvent(None, IMPORT_SCHEMA, counts, event_uuid(source, IMPORT_SCHEMA, "", "finished", key))
        )
    return Plan(events, new_ledgers, problems_key if new_problems else None, counts)
