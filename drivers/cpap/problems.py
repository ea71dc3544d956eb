"""Typed problems: one per damaged file (or bad CSV row); the rest of the import goes on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ProblemCode(StrEnum):
    NOT_A_CARD = "not_a_card"
    IDENTIFICATION_MISSING = "identification_missing"
    IDENTIFICATION_UNREADABLE = "identification_unreadable"
    CRC_MISMATCH = "crc_mismatch"  # a .crc side file does not match its file
    STR_MISSING = "str_missing"
    STR_UNREADABLE = "str_unreadable"  # corrupt or foreign header
    STR_TRUNCATED = "str_truncated"
    STR_LAYOUT = "str_layout"  # readable EDF but not a ResMed daily summary
    RECORD_CRC_MISMATCH = "record_crc_mismatch"  # per-record Crc16 wrong: those days are skipped
    DATE_MISMATCH = "date_mismatch"
    IMPLAUSIBLE_DAY = "implausible_day"  # a day's figures cannot be real: left out of the periods
    DATALOG_UNREADABLE = "datalog_unreadable"
    DATALOG_TRUNCATED = "datalog_truncated"  # complete records are still used
    CSV_UNREADABLE = "csv_unreadable"
    CSV_BAD_ROW = "csv_bad_row"
    READER_FAULT = "reader_fault"  # our reader failed on this file (a bug): the file is skipped
    SOURCE_UNREADABLE = "source_unreadable"  # the card or file could not be read at all (I/O error…)


@dataclass(frozen=True, slots=True)
class Problem:
    code: ProblemCode
    file: str  # path relative to the imported card or the export file name
    message: str
    line: int | None = None
