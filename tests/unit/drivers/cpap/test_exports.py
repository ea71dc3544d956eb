"""CSV export reader: mapping, decimal comma, date formats, bad rows with their line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from passerelle.drivers.cpap.exports import CsvMapping, read_export
from passerelle.drivers.cpap.problems import ProblemCode
from tests.unit.drivers.cpap.conftest import CardFactory


def test_simulator_export_matches_the_card(make_card: CardFactory) -> None:
    card = make_card("good", days=90)
    assert card.csv_path is not None
    read = read_export(card.csv_path, CsvMapping())
    assert read.problems == []
    device = read.devices["23201234567"]
    assert device.patient_ref == "PAT-0001"
    assert [(d.day, d.usage_minutes) for d in device.days.values()] == [
        (n.day, n.usage_minutes) for n in card.nights
    ]


def test_bad_rows_are_reported_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "serial,date,minutes,ahi\n"
        "A1,2026-01-01,420,2.5\n"
        "A1,2026-13-01,420,2.5\n"
        "A1,2026-01-02,abc,2.5\n"
        ",2026-01-03,300,1\n"
        "A1,2026-01-04,2000,1\n"
        "A1,2026-01-01,100,1\n"
        "B2,2026-01-05,61.5,\n",
        encoding="utf-8",
    )
    mapping = CsvMapping(
        delimiter=",",
        decimal_comma=False,
        date_format="%Y-%m-%d",
        serial="serial",
        patient_ref=None,
        date="date",
        usage_minutes="minutes",
        usage_hours=None,
        ahi="ahi",
        leak_95=None,
    )
    read = read_export(path, mapping)
    assert [(p.code, p.file, p.line) for p in read.problems] == [
        (ProblemCode.CSV_BAD_ROW, "export.csv", 3),
        (ProblemCode.CSV_BAD_ROW, "export.csv", 4),
        (ProblemCode.CSV_BAD_ROW, "export.csv", 5),
        (ProblemCode.CSV_BAD_ROW, "export.csv", 6),
        (ProblemCode.CSV_BAD_ROW, "export.csv", 7),
    ]
    assert read.devices["A1"].days[next(iter(read.devices["A1"].days))].usage_minutes == 420
    b2 = next(iter(read.devices["B2"].days.values()))
    assert b2.usage_minutes == 62  # 61.5 rounds half up
    assert b2.ahi is None


def test_decimal_comma_hours(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("Numéro de série;Date;Utilisation (h)\nS1;01/02/2026;7,02\nS1;02/02/2026;1.234,5\n")
    read = read_export(path, CsvMapping(patient_ref=None, ahi=None, leak_95=None))
    days = list(read.devices["S1"].days.values())
    assert days[0].usage_minutes == 421
    assert [p.line for p in read.problems] == [3]  # 1234.5 h is more than a day


def test_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a;b\n1;2\n")
    read = read_export(path, CsvMapping())
    assert [p.code for p in read.problems] == [ProblemCode.CSV_UNREADABLE]


def test_mapping_needs_one_usage_column() -> None:
    with pytest.raises(ValidationError):
        CsvMapping(usage_minutes="m", usage_hours="h")


def test_rows_beyond_the_day_bounds_are_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        "Numéro de série;Date;Utilisation (h);IAH;Fuites 95 (L/min)\n"
        "S1;01/02/2026;7,00;3,1;12,0\n"
        "S1;02/02/2026;7,00;300,0;12,0\n"  # AHI above the machines' scale
        "S1;03/02/2026;7,00;3,0;500,0\n"  # leak no blower delivers
    )
    read = read_export(path, CsvMapping(patient_ref=None))
    assert [(p.line, p.message) for p in read.problems] == [
        (3, "implausible day: AHI 300.0 outside 0..240 events/h"),
        (4, "implausible day: 95th percentile leak 500.0 outside 0..120 L/min"),
    ]
    assert len(read.devices["S1"].days) == 1
