"""STR.edf, the ResMed daily summary: one 86400-s record per ResMed day, starting at noon.

Total over its input: any byte string gives days and typed problems, never an exception. edfio
parses the header; the values come straight from the record bytes (one int16 matrix, also used for
the Crc16 check), so a header that lies about sizes cannot make a column shorter than the days.
Every figure of a day is checked against :mod:`passerelle.drivers.cpap.plausibility`: an impossible day is
reported and excluded, never clipped.
"""

from __future__ import annotations

import binascii
import math
import re
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import edfio
import numpy as np
import numpy.typing as npt

from passerelle.drivers.cpap.labels import map_header_labels
from passerelle.drivers.cpap.observance import MIDNIGHT_OFFSET, DayUsage
from passerelle.drivers.cpap.plausibility import (
    DAY_MINUTES,
    MAX_AHI,
    MAX_LEAK_95,
    SLOT_SUM_TOLERANCE,
    ExcludedDay,
    day_problems,
)
from passerelle.drivers.cpap.problems import Problem, ProblemCode

EMPTY = -1
EPOCH = date(1970, 1, 1)
DAY_SECONDS = 86400
NOON = timedelta(hours=12)
# Signals with one value per day, and the session slots (ten per day on every ResMed model).
SCALAR_SIGNALS = ("duration", "date", "ahi", "leak_95")
SLOT_SIGNALS = ("mask_on", "mask_off")
# A physical range beyond this is not a ResMed scale; it would also overflow the scaling.
MAX_PHYSICAL = 1e9


@dataclass(frozen=True, slots=True)
class StrRead:
    days: list[DayUsage]
    serial: str | None  # from the recording field (SRN=…), a fallback for a missing identification
    excluded: list[ExcludedDay] = field(default_factory=list)  # implausible days, left out


class StrError(Exception):
    """The file cannot give any day: becomes one problem with this code and message."""

    def __init__(self, code: ProblemCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def read_str(raw: bytes, name: str, problems: list[Problem], *, verify_crc: bool = True) -> StrRead:
    """Daily records of an STR.edf image.

    ``verify_crc`` checks every record's Crc16 (about a fifth of the time for a year of records)."""
    try:
        return _read(raw, name, problems, verify_crc)
    except StrError as exc:
        problems.append(Problem(exc.code, name, str(exc)))
    except Exception as exc:  # a reader bug must cost this file only: a typed problem, not a traceback
        problems.append(Problem(ProblemCode.READER_FAULT, name, f"{type(exc).__name__}: {exc}"))
    return StrRead([], None)


@dataclass(frozen=True, slots=True)
class _Layout:
    index: dict[str, int]  # canonical signal name -> signal number
    samples: tuple[int, ...]  # per record, per signal
    offsets: tuple[int, ...]  # first int16 word of each signal within a record

    @property
    def record_words(self) -> int:
        return sum(self.samples)


@lru_cache(maxsize=64)
def _layout(signal_header: bytes, n: int) -> _Layout:
    """Signal map and record shape from the per-signal header block (identical on every card of a
    model, so cached: labels and sample counts are decoded once per model, not per card)."""
    spr_at = n * (16 + 80 + 8 + 8 + 8 + 8 + 8 + 80)
    try:
        samples = tuple(int(signal_header[spr_at + 8 * i : spr_at + 8 * i + 8]) for i in range(n))
    except ValueError as exc:
        raise StrError(
            ProblemCode.STR_UNREADABLE, f"samples-per-record field is not a number: {exc}"
        ) from exc
    if any(s <= 0 for s in samples):
        raise StrError(ProblemCode.STR_UNREADABLE, "a signal declares no samples per record")
    offsets = tuple(int(x) for x in np.cumsum((0, *samples[:-1])))
    return _Layout(map_header_labels(signal_header[: 16 * n]), samples, offsets)


def _header_start(raw: bytes) -> datetime:
    d, t = raw[168:176].decode("ascii"), raw[176:184].decode("ascii")
    day, month, yy = (int(x) for x in d.split("."))
    hh, mm, ss = (int(x) for x in t.split("."))
    return datetime(1900 + yy if yy >= 85 else 2000 + yy, month, day, hh, mm, ss)


@dataclass(frozen=True, slots=True)
class _Scale:
    dmin: int
    dmax: int
    pmin: float
    pmax: float
    dimension: str

    def apply(self, digital: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        ratio = (self.pmax - self.pmin) / (self.dmax - self.dmin)
        return (digital - self.dmin).astype(np.float64) * ratio + self.pmin


def _scale_of(sig: Any) -> _Scale:
    """The signal's scaling, or ValueError saying which header field makes it unusable."""
    dmin, dmax = int(sig.digital_min), int(sig.digital_max)
    pmin, pmax = float(sig.physical_min), float(sig.physical_max)
    if not all(math.isfinite(v) and abs(v) <= MAX_PHYSICAL for v in (pmin, pmax)):
        raise ValueError(f"physical range {pmin}..{pmax} is not a usable scale")
    if dmax == dmin:
        raise ValueError(f"digital range {dmin}..{dmax} is empty")
    return _Scale(dmin, dmax, pmin, pmax, str(sig.physical_dimension))


def _read(raw: bytes, name: str, problems: list[Problem], verify_crc: bool) -> StrRead:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # truncation is checked below, with our own message
            edf = edfio.read_edf(raw, lazy_load_data=True, header_encoding="latin-1")
            signals = edf.signals
            header_bytes = edf.bytes_in_header_record
            record_seconds = edf.data_record_duration
            recording = edf.local_recording_identification
            # Plain EDF (no EDF+ time-keeping signal): the start is the header's date and time.
            # Parsed here from the same bytes because edfio's startdatetime scans every signal.
            start = _header_start(raw)
            declared = int(raw[236:244].decode("ascii").strip() or -1)
    except Exception as exc:  # edfio raises ValueError/IndexError/… on garbage: all mean "unreadable"
        raise StrError(ProblemCode.STR_UNREADABLE, f"not a readable EDF file: {exc}") from exc
    serial_match = re.search(r"SRN=(\S+)", recording)
    serial = serial_match.group(1) if serial_match else None
    if record_seconds != DAY_SECONDS:
        problems.append(
            Problem(ProblemCode.STR_LAYOUT, name, f"record duration {record_seconds} s, not 86400")
        )
        return StrRead([], serial)
    if header_bytes != 256 * (len(signals) + 1) or len(raw) < header_bytes:
        raise StrError(
            ProblemCode.STR_UNREADABLE,
            f"header size {header_bytes} bytes does not fit {len(signals)} signals",
        )
    layout = _layout(bytes(raw[256:header_bytes]), len(signals))
    scales = _usable_signals(signals, layout, name, problems)
    if "duration" not in scales:  # the only signal observance cannot do without
        problems.append(Problem(ProblemCode.STR_LAYOUT, name, "missing or unusable signal: duration"))
        return StrRead([], serial)
    record_len = 2 * layout.record_words
    available = (len(raw) - header_bytes) // record_len
    if declared != available or (len(raw) - header_bytes) % record_len:
        problems.append(
            Problem(
                ProblemCode.STR_TRUNCATED,
                name,
                f"header declares {declared} daily records, file holds {available} complete ones",
            )
        )
    n = available if declared < 0 else min(declared, available)
    if n <= 0:
        return StrRead([], serial)
    words = np.frombuffer(raw, dtype="<i2", count=n * layout.record_words, offset=header_bytes)
    matrix = words.reshape(n, layout.record_words)
    # The checksum is the last word of each record; a Crc16 declared anywhere else cannot be checked.
    crc_last = layout.index.get("crc16") == len(layout.samples) - 1 and layout.samples[-1] == 1
    bad = _bad_records(raw, header_bytes, record_len, matrix) if verify_crc and crc_last else []
    first_day = (start - NOON).date() if start.hour < 12 else start.date()
    return _days(matrix, layout, scales, first_day, bad, name, problems, serial)


def _usable_signals(signals: Any, layout: _Layout, name: str, problems: list[Problem]) -> dict[str, _Scale]:
    """Scales of the signals the reader uses; a damaged one is reported and left out."""
    scales: dict[str, _Scale] = {}
    for key in (*SCALAR_SIGNALS, *SLOT_SIGNALS):
        i = layout.index.get(key)
        if i is None:
            continue
        spr = layout.samples[i]
        try:
            if key in SCALAR_SIGNALS and spr != 1:
                raise ValueError(f"{spr} samples per day, not 1")
            scales[key] = _scale_of(signals[i])
        except (ValueError, OverflowError) as exc:
            problems.append(Problem(ProblemCode.STR_LAYOUT, name, f"signal {key} unusable, left out: {exc}"))
    if ("mask_on" in scales) != ("mask_off" in scales) or (
        "mask_on" in scales
        and layout.samples[layout.index["mask_on"]] != layout.samples[layout.index["mask_off"]]
    ):
        scales.pop("mask_on", None)
        scales.pop("mask_off", None)
        problems.append(Problem(ProblemCode.STR_LAYOUT, name, "mask on/off slots unusable: sessions unknown"))
    return scales


def _bad_records(raw: bytes, header: int, record_len: int, matrix: npt.NDArray[np.int16]) -> list[int]:
    """Records whose trailing Crc16 (CRC-16/CCITT-FALSE of the record's other bytes) is wrong."""
    view = memoryview(raw)
    stored = matrix[:, -1].view("<u2").tolist()
    body = record_len - 2
    crc = binascii.crc_hqx  # CRC-16/CCITT-FALSE with init 0xFFFF (see checksums.py)
    computed = [
        crc(view[o : o + body], 0xFFFF) for o in range(header, header + len(stored) * record_len, record_len)
    ]
    return [i for i, (a, b) in enumerate(zip(computed, stored, strict=True)) if a != b]


def _column(matrix: npt.NDArray[np.int16], layout: _Layout, key: str) -> npt.NDArray[np.int64]:
    """All samples of one signal, one row per day."""
    i = layout.index[key]
    o = layout.offsets[i]
    return matrix[:, o : o + layout.samples[i]].astype(np.int64)


def _physical(
    matrix: npt.NDArray[np.int16], layout: _Layout, scales: dict[str, _Scale], key: str, factor: float
) -> npt.NDArray[np.float64]:
    """One value per day, NaN on unused days (-1 tested before scaling: never an AHI of -0.1)."""
    if key not in scales:
        return np.full(len(matrix), np.nan)
    digital = _column(matrix, layout, key)[:, 0]
    values = np.round(scales[key].apply(digital) * factor, 1)
    values[digital == EMPTY] = np.nan
    return values


def _sessions(
    on: npt.NDArray[np.int64], off: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Sessions per day (slots with an on or an off), minutes after midnight (wall clock) and the
    slots' total minutes.

    Slot 0 may hold an off without an on (a session that started the day before, before noon): it
    counts from noon. A last on without an off runs until the next noon.
    """
    valid = (on != EMPTY) | (off != EMPTY)
    start = np.where(on == EMPTY, 0, on)
    end = np.where(off == EMPTY, DAY_MINUTES, off)
    late = np.clip(end, MIDNIGHT_OFFSET, DAY_MINUTES) - np.clip(start, MIDNIGHT_OFFSET, DAY_MINUTES)
    late_total = np.where(valid, np.maximum(late, 0), 0).sum(axis=1)
    return valid.sum(axis=1), late_total, np.where(valid, end - start, 0).sum(axis=1)


def _off_the_clock(slots: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Slot values that are neither empty nor minutes within the day."""
    odd: npt.NDArray[np.bool_] = (slots != EMPTY) & ((slots < 0) | (slots > DAY_MINUTES))
    return odd


def _days(
    matrix: npt.NDArray[np.int16],
    layout: _Layout,
    scales: dict[str, _Scale],
    first_day: date,
    bad: list[int],
    name: str,
    problems: list[Problem],
    serial: str | None,
) -> StrRead:
    n = len(matrix)
    duration = _column(matrix, layout, "duration")[:, 0]
    minutes = np.where(duration == EMPTY, 0, np.rint(scales["duration"].apply(duration))).astype(np.int64)
    ahi = _physical(matrix, layout, scales, "ahi", 1.0)
    leak_scale = scales.get("leak_95")
    per_minute = 1.0 if leak_scale is not None and "min" in leak_scale.dimension.lower() else 60.0
    leak95 = _physical(matrix, layout, scales, "leak_95", per_minute)
    # The same bounds as plausibility.day_problems, over the whole year at once; only the days they
    # flag go through day_problems, which words the reasons.
    suspect = (minutes < 0) | (minutes > DAY_MINUTES)
    suspect |= ~np.isnan(ahi) & ~((ahi >= 0) & (ahi <= MAX_AHI))
    suspect |= ~np.isnan(leak95) & ~((leak95 >= 0) & (leak95 <= MAX_LEAK_95))
    on = off = None
    if "mask_on" in scales:
        on, off = _column(matrix, layout, "mask_on"), _column(matrix, layout, "mask_off")
        sessions, late, slot_total = _sessions(on, off)
        suspect |= _off_the_clock(on).any(axis=1) | _off_the_clock(off).any(axis=1)
        suspect |= (minutes > 0) & (np.abs(slot_total - minutes) > SLOT_SUM_TOLERANCE)
    else:
        sessions, late = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    if "date" in scales:
        dates_raw = _column(matrix, layout, "date")[:, 0]
        expected = np.arange(n) + (first_day - EPOCH).days
        wrong = (dates_raw != EMPTY) & (dates_raw != expected)
        if wrong.any():
            problems.append(
                Problem(
                    ProblemCode.DATE_MISMATCH,
                    name,
                    f"{int(wrong.sum())} record(s) whose Date signal disagrees with the header start",
                )
            )
    base = first_day.toordinal()
    late = np.where(minutes > 0, late, 0)
    ahi_list = [None if v != v else v for v in ahi.tolist()]  # NaN (unused day) -> None
    leak_list = [None if v != v else v for v in leak95.tolist()]
    days = list(
        map(DayUsage, map(date.fromordinal, range(base, base + n)), minutes.tolist(), sessions.tolist(),
            ahi_list, leak_list, late.tolist())
    )  # fmt: skip
    skip = set(bad)
    if bad:
        listed = ", ".join(str(first_day + timedelta(days=i)) for i in bad[:5])
        problems.append(
            Problem(
                ProblemCode.RECORD_CRC_MISMATCH,
                name,
                f"{len(bad)} daily record(s) fail their Crc16 and are skipped: {listed}",
            )
        )
    excluded: list[ExcludedDay] = []
    for i in np.flatnonzero(suspect).tolist():
        if i in skip:
            continue
        d = days[i]
        slots = None if on is None or off is None else list(zip(on[i].tolist(), off[i].tolist(), strict=True))
        reasons = day_problems(d.usage_minutes, d.sessions, d.ahi, d.leak_95, slots)
        if reasons:
            skip.add(i)
            excluded.append(ExcludedDay(d.day, "; ".join(reasons)))
            problems.append(
                Problem(
                    ProblemCode.IMPLAUSIBLE_DAY,
                    name,
                    f"{d.day}: {excluded[-1].reason}; left out of the periods",
                )
            )
    if skip:
        days = [d for i, d in enumerate(days) if i not in skip]
    return StrRead(days, serial, excluded)
