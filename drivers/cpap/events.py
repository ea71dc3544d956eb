"""Payloads of the observance channel (``data`` of each envelope)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from passerelle.daemon.family import EventDeclaration

DAY_SCHEMA = "passerelle.observance.day/1"
PERIOD_SCHEMA = "passerelle.observance.period/1"
RENEWAL_SCHEMA = "passerelle.observance.renewal/1"
IMPORT_SCHEMA = "passerelle.observance.import/1"


class DayData(BaseModel):
    """One ResMed day (noon to noon, labelled by its first date), new or changed."""

    device_serial: str
    patient_ref: str | None = Field(None, description="from an export file only; never in topics")
    date: dt.date
    usage_minutes: int
    sessions: int
    ahi: float | None = Field(None, description="events/h; null on days without use")
    leak_95: float | None = Field(None, description="L/min")
    at_least_4h: bool
    datalog_events: dict[str, int] | None = None
    source: Literal["sdcard", "export"]


class ExcludedDayData(BaseModel):
    date: dt.date
    reason: str = Field(description="why the day's figures cannot be real")


class PeriodData(BaseModel):
    """A completed 28-day period and its forfait."""

    device_serial: str
    patient_ref: str | None = None
    index: int
    start: dt.date
    end: dt.date
    minutes: int
    hours: float = Field(description="hours truncated to the hundredth, for display (minutes is exact)")
    tier: str = Field(description="TL1/TL2/TL3 (telemonitored) or NT1/NT2/NT3")
    forfait: str
    lpp_code: str
    associated_code: str
    complete: bool
    days_with_data: int
    days_at_least_4h: int
    boundary_rule: str
    days_excluded: list[ExcludedDayData] = Field(
        default_factory=list,
        description="implausible days of the period, counted as days without data, with the reason",
    )


class RenewalData(BaseModel):
    """Renewal status over the last 12 complete periods, and the prescription-end alert."""

    device_serial: str
    patient_ref: str | None = None
    status: Literal["eligible", "dap_required", "insufficient_history"]
    eligible: bool
    periods_considered: int
    periods_at_least_112h: int
    periods_at_least_56h: int
    reason: str
    window_start: dt.date | None
    window_end: dt.date | None
    prescription_end: dt.date | None
    prescription_alert: Literal["none", "ok", "due_soon", "expired"]
    days_left: int | None
    alert_message: str


class ImportProblemData(BaseModel):
    code: str
    file: str
    line: int | None = None
    message: str


class ImportData(BaseModel):
    """Progress and problems of one import (a card or an export file)."""

    source: str
    kind: Literal["sdcard", "export"]
    status: Literal["started", "finished"]
    devices: list[str] = Field(default_factory=list, description="device serials in this import")
    days_read: int = 0
    days_new: int = 0
    days_changed: int = 0
    periods_new: int = 0
    renewal_changed: int = 0
    problems: list[ImportProblemData] = Field(default_factory=list)


# One topic carries the four schemas; consumers tell them apart by the envelope's "schema".
EVENTS = (
    EventDeclaration(
        DAY_SCHEMA,
        DayData,
        "observance",
        "one day of use, new or changed — see [observance.md](observance.md)",
    ),
    EventDeclaration(PERIOD_SCHEMA, PeriodData, "observance", "a completed 28-day period and its forfait"),
    EventDeclaration(
        RENEWAL_SCHEMA, RenewalData, "observance", "renewal status and the prescription-end alert"
    ),
    EventDeclaration(IMPORT_SCHEMA, ImportData, "observance", "progress and problems of one import"),
)
