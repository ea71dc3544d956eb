"""CSV observance exports (cloud platforms have no public format: the column mapping is configured).

Bad rows become problems with the file name and line number; the other rows are imported.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, model_validator

from passerelle.drivers.cpap.observance import DayUsage
from passerelle.drivers.cpap.plausibility import day_problems
from passerelle.drivers.cpap.problems import Problem, ProblemCode


class CsvMapping(BaseModel):
    """Column names (header labels) and number/date conventions of one export format."""

    delimiter: str = ";"
    decimal_comma: bool = True
    date_format: str = "%d/%m/%Y"
    encoding: str = "utf-8-sig"
    serial: str = "Numéro de série"
    patient_ref: str | None = "Référence patient"
    date: str = "Date"
    usage_minutes: str | None = None
    usage_hours: str | None = "Utilisation (h)"
    ahi: str | None = "IAH"
    leak_95: str | None = "Fuites 95 (L/min)"
    leak_unit: Literal["l_min", "l_s"] = "l_min"

    @model_validator(mode="after")
    def _one_usage_column(self) -> CsvMapping:
        if (self.usage_minutes is None) == (self.usage_hours is None):
            raise ValueError("set exactly one of usage_minutes and usage_hours")
        return self


@dataclass(slots=True)
class ExportDevice:
    serial: str
    patient_ref: str | None
    days: dict[date, DayUsage] = field(default_factory=dict)


@dataclass(slots=True)
class ExportRead:
    devices: dict[str, ExportDevice]
    problems: list[Problem]


class _BadRowError(ValueError):
    pass


def _number(text: str, mapping: CsvMapping, what: str) -> Decimal:
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if mapping.decimal_comma:
        cleaned = cleaned.replace(".", "").replace(",", ".") if "," in cleaned else cleaned
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise _BadRowError(f"{what} {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise _BadRowError(f"{what} {text!r} out of range")
    return value


def _optional(row: dict[str, str], column: str | None, mapping: CsvMapping, what: str) -> Decimal | None:
    if column is None or not (row.get(column) or "").strip():
        return None
    return _number(row[column], mapping, what)


def _parse_row(row: dict[str, str], mapping: CsvMapping) -> tuple[str, str | None, DayUsage]:
    serial = (row.get(mapping.serial) or "").strip()
    if not serial:
        raise _BadRowError("empty device serial")
    raw_date = (row.get(mapping.date) or "").strip()
    try:
        day = datetime.strptime(raw_date, mapping.date_format).date()
    except ValueError:
        raise _BadRowError(f"date {raw_date!r} does not match {mapping.date_format!r}") from None
    if mapping.usage_minutes is not None:
        value = _number(row.get(mapping.usage_minutes) or "", mapping, "usage minutes")
    else:
        value = _number(row.get(mapping.usage_hours or "") or "", mapping, "usage hours") * 60
    minutes = int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    ahi = _optional(row, mapping.ahi, mapping, "AHI")
    leak = _optional(row, mapping.leak_95, mapping, "leak")
    if leak is not None and mapping.leak_unit == "l_s":
        leak *= 60
    patient = (row.get(mapping.patient_ref) or "").strip() or None if mapping.patient_ref else None
    usage = DayUsage(
        day,
        minutes,
        1 if minutes else 0,
        None if ahi is None else round(float(ahi), 1),
        None if leak is None else round(float(leak), 1),
    )
    reasons = day_problems(usage.usage_minutes, usage.sessions, usage.ahi, usage.leak_95)
    if reasons:  # the same bounds as a card's days (plausibility.py)
        raise _BadRowError("implausible day: " + "; ".join(reasons))
    return serial, patient, usage


def read_export(path: Path, mapping: CsvMapping) -> ExportRead:
    name = path.name
    problems: list[Problem] = []
    devices: dict[str, ExportDevice] = {}
    try:
        text = path.read_bytes().decode(mapping.encoding)
    except (OSError, UnicodeDecodeError) as exc:
        return ExportRead({}, [Problem(ProblemCode.CSV_UNREADABLE, name, f"cannot read: {exc}")])
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=mapping.delimiter)
    header = reader.fieldnames or []
    required = [mapping.serial, mapping.date, mapping.usage_minutes or mapping.usage_hours]
    missing = [c for c in required if c not in header]
    if missing:
        problems.append(Problem(ProblemCode.CSV_UNREADABLE, name, f"missing column(s): {missing}", line=1))
        return ExportRead({}, problems)
    for row in reader:
        line = reader.line_num
        try:
            serial, patient, usage = _parse_row(row, mapping)
        except _BadRowError as exc:
            problems.append(Problem(ProblemCode.CSV_BAD_ROW, name, str(exc), line=line))
            continue
        device = devices.setdefault(serial, ExportDevice(serial, patient))
        if usage.day in device.days:
            problems.append(Problem(ProblemCode.CSV_BAD_ROW, name, f"duplicate day {usage.day}", line=line))
            continue
        device.days[usage.day] = usage
    return ExportRead(devices, problems)
