"""ResMed SD card reader (AirSense 10/11, S9) on top of edfio.

pyedflib refuses ResMed STR/EVE files (UTF-8 ``°C``, digital maximum 65534); edfio reads them. Every
damaged file becomes a typed :class:`Problem` and the rest of the card is still read.
"""

from __future__ import annotations

import binascii
import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import edfio
import numpy as np
import numpy.typing as npt

from drivers.cpap.checksums import edf_side_crc, identification_crc
from drivers.cpap.labels import map_header_labels
from drivers.cpap.observance import MIDNIGHT_OFFSET, DayUsage
from drivers.cpap.problems import Problem, ProblemCode

EMPTY = -1
EPOCH = date(1970, 1, 1)
DAY_SECONDS = 86400
NOON = timedelta(hours=12)
_STAMP = re.compile(r"^(\d{8}_\d{6})_(\w+)\.edf$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Identity:
    serial: str
    model: str | None = None  # product name, e.g. "AirSense 10 AutoSet"
    product_code: str | None = None


@dataclass(slots=True)
class NightDetail:
    """DATALOG summary of one ResMed day."""

    sessions: int = 0
    minutes: int = 0  # from the PLD headers (records x record duration)
    events: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class CardRead:
    identity: Identity | None
    days: list[DayUsage]
    problems: list[Problem]
    datalog: dict[date, NightDetail] = field(default_factory=dict)


def is_card(path: Path) -> bool:
    return (path / "STR.edf").is_file() or (path / "DATALOG").is_dir()


def read_identification(card: Path, problems: list[Problem]) -> Identity | None:
    for name in ("Identification.json", "Identification.tgt"):
        path = card / name
        if not path.is_file():
            continue
        raw = path.read_bytes()
        crc = card / "Identification.crc"
        if crc.is_file() and crc.read_bytes()[:4] != identification_crc(raw):
            problems.append(Problem(ProblemCode.CRC_MISMATCH, crc.name, f"{name} does not match its CRC32"))
        try:
            return _parse_json_id(raw) if name.endswith(".json") else _parse_tgt_id(raw)
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(Problem(ProblemCode.IDENTIFICATION_UNREADABLE, name, str(exc)))
            return None
    problems.append(
        Problem(ProblemCode.IDENTIFICATION_MISSING, "Identification.*", "no Identification.tgt or .json")
    )
    return None


def _parse_tgt_id(raw: bytes) -> Identity:
    fields: dict[str, str] = {}
    for line in raw.decode("latin-1").splitlines():
        if line.startswith("#") and " " in line:
            key, _, value = line[1:].partition(" ")
            fields[key.strip()] = value.strip()
    if not fields.get("SRN"):
        raise ValueError("Identification.tgt has no #SRN line")
    name = fields.get("PNA")
    return Identity(fields["SRN"], name.replace("_", " ") if name else None, fields.get("PCD"))


def _parse_json_id(raw: bytes) -> Identity:
    doc: Any = json.loads(raw.decode("utf-8"))
    product = doc["FlowGenerator"]["IdentificationProfiles"]["Product"]
    serial = str(product["SerialNumber"])
    if not serial:
        raise ValueError("Identification.json has an empty SerialNumber")
    code = product.get("ProductCode")
    return Identity(serial, product.get("ProductName"), None if code is None else str(code))


def _scale(sig: Any, digital: npt.NDArray[np.int16]) -> npt.NDArray[np.float64]:
    dmin, dmax = sig.digital_min, sig.digital_max
    pmin, pmax = sig.physical_min, sig.physical_max
    if dmax == dmin:
        return digital.astype(np.float64)
    scaled: npt.NDArray[np.float64] = (digital.astype(np.float64) - dmin) * (
        (pmax - pmin) / (dmax - dmin)
    ) + pmin
    return scaled


@dataclass(frozen=True, slots=True)
class StrRead:
    days: list[DayUsage]
    serial: str | None  # from the recording field (SRN=…), a fallback for a missing identification


def read_str(raw: bytes, name: str, problems: list[Problem], *, verify_crc: bool = True) -> StrRead:
    """Daily records of an STR.edf image (one record per ResMed day, starting at noon).

    ``verify_crc`` checks every record's Crc16 (about a fifth of the time for a year of records)."""
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
    except Exception as exc:  # edfio raises ValueError/IndexError/… on garbage: all mean "unreadable"
        problems.append(Problem(ProblemCode.STR_UNREADABLE, name, f"not a readable EDF file: {exc}"))
        return StrRead([], None)
    serial_match = re.search(r"SRN=(\S+)", recording)
    serial = serial_match.group(1) if serial_match else None
    if record_seconds != DAY_SECONDS:
        problems.append(
            Problem(ProblemCode.STR_LAYOUT, name, f"record duration {record_seconds} s, not 86400")
        )
        return StrRead([], serial)
    layout = _layout(bytes(raw[256:header_bytes]), len(signals))
    sig_index = layout.index
    if "duration" not in sig_index:  # the only signal observance cannot do without
        problems.append(Problem(ProblemCode.STR_LAYOUT, name, "missing signals: duration"))
        return StrRead([], serial)
    record_len = layout.record_bytes
    declared = int(raw[236:244].decode("ascii", "replace").strip() or -1)
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
    bad = _bad_records(raw, header_bytes, record_len, n, verify_crc and "crc16" in sig_index)
    first_day = (start - NOON).date() if start.hour < 12 else start.date()

    def column(key: str) -> npt.NDArray[np.int16] | None:
        i = sig_index.get(key)
        return None if i is None else np.asarray(signals[i].digital)[: n * signals[i].samples_per_data_record]

    dur_sig = signals[sig_index["duration"]]
    dur_raw = column("duration")
    assert dur_raw is not None
    minutes = np.where(dur_raw == EMPTY, 0, np.rint(_scale(dur_sig, dur_raw))).astype(np.int64)
    sessions, late = _sessions(column("mask_on"), column("mask_off"), n)
    ahi = _optional(signals, sig_index, "ahi", n, 1.0)
    leak95_sig = signals[sig_index["leak_95"]] if "leak_95" in sig_index else None
    per_minute = 1.0 if leak95_sig is not None and "min" in leak95_sig.physical_dimension.lower() else 60.0
    leak95 = _optional(signals, sig_index, "leak_95", n, per_minute)
    date_raw = column("date")
    expected = np.arange(n) + (first_day - EPOCH).days
    if date_raw is not None:
        wrong = (date_raw[:n] != EMPTY) & (date_raw[:n] != expected)
        if wrong.any():
            problems.append(
                Problem(
                    ProblemCode.DATE_MISMATCH,
                    name,
                    f"{int(wrong.sum())} record(s) whose Date signal disagrees with the header start",
                )
            )
    base = first_day.toordinal()
    dates = map(date.fromordinal, range(base, base + n))
    late = np.where(minutes > 0, late, 0)
    days = list(map(DayUsage, dates, minutes.tolist(), sessions.tolist(), ahi, leak95, late.tolist()))
    if bad:
        bad_set = set(bad)
        days = [d for i, d in enumerate(days) if i not in bad_set]
        listed = ", ".join(str(first_day + timedelta(days=i)) for i in bad[:5])
        problems.append(
            Problem(
                ProblemCode.RECORD_CRC_MISMATCH,
                name,
                f"{len(bad)} daily record(s) fail their Crc16 and are skipped: {listed}",
            )
        )
    return StrRead(days, serial)


@dataclass(frozen=True, slots=True)
class _Layout:
    index: dict[str, int]  # canonical signal name -> signal number
    record_bytes: int


@lru_cache(maxsize=64)
def _layout(signal_header: bytes, n: int) -> _Layout:
    """Signal map and record size from the per-signal header block (identical on every card of a
    model, so cached: the labels and sample counts are decoded once per model, not per card)."""
    spr_at = n * (16 + 80 + 8 + 8 + 8 + 8 + 8 + 80)
    samples = sum(int(signal_header[spr_at + 8 * i : spr_at + 8 * i + 8]) for i in range(n))
    return _Layout(map_header_labels(signal_header[: 16 * n]), 2 * samples)


def _header_start(raw: bytes) -> datetime:
    d, t = raw[168:176].decode("ascii"), raw[176:184].decode("ascii")
    day, month, yy = (int(x) for x in d.split("."))
    hh, mm, ss = (int(x) for x in t.split("."))
    return datetime(1900 + yy if yy >= 85 else 2000 + yy, month, day, hh, mm, ss)


def _bad_records(raw: bytes, header: int, record_len: int, n: int, has_crc: bool) -> list[int]:
    """Records whose trailing Crc16 (CRC-16/CCITT-FALSE of the record's other bytes) is wrong."""
    if not has_crc:
        return []
    view = memoryview(raw)
    words = np.frombuffer(raw, dtype="<u2", count=n * record_len // 2, offset=header).reshape(n, -1)
    stored = words[:, -1].tolist()
    body = record_len - 2
    crc = binascii.crc_hqx  # CRC-16/CCITT-FALSE with init 0xFFFF (see checksums.py)
    computed = [crc(view[o : o + body], 0xFFFF) for o in range(header, header + n * record_len, record_len)]
    return [i for i, (a, b) in enumerate(zip(computed, stored, strict=True)) if a != b]


def _sessions(
    on: npt.NDArray[np.int16] | None, off: npt.NDArray[np.int16] | None, n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Sessions per day (slots with an on or an off) and minutes after midnight (wall clock).

    Slot 0 may hold an off without an on (a session that started the day before, before noon): it
    counts from noon. A last on without an off runs until the next noon.
    """
    if on is None or off is None or on.size < n or off.size < n:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    on2 = on.reshape(n, -1).astype(np.int64)
    off2 = off.reshape(n, -1).astype(np.int64)
    valid = (on2 != EMPTY) | (off2 != EMPTY)
    start = np.where(on2 == EMPTY, 0, on2)
    end = np.where(off2 == EMPTY, 1440, off2)
    late = np.clip(end, MIDNIGHT_OFFSET, 1440) - np.clip(start, MIDNIGHT_OFFSET, 1440)
    return valid.sum(axis=1), np.where(valid, np.maximum(late, 0), 0).sum(axis=1)


def _optional(signals: Any, index: Mapping[str, int], key: str, n: int, factor: float) -> list[float | None]:
    i = index.get(key)
    if i is None:
        return [None] * n
    sig = signals[i]
    dig = np.asarray(sig.digital)[:n]
    # Test the raw value for -1 before scaling, or an unused day shows an AHI of -0.1.
    vals = np.round(_scale(sig, dig) * factor, 1).astype(object)
    vals[dig == EMPTY] = None
    out: list[float | None] = vals.tolist()
    return out


def read_datalog(card: Path, problems: list[Problem]) -> dict[date, NightDetail]:
    """Sessions and event counts per ResMed day from DATALOG (AirSense: per-day folders; S9: flat)."""
    nights: dict[date, NightDetail] = {}
    root = card / "DATALOG"
    if not root.is_dir():
        return nights
    stamps: dict[date, set[str]] = {}
    for path in sorted(root.rglob("*.edf")):
        m = _STAMP.match(path.name)
        if not m:
            continue
        kind = m.group(2).upper()
        if kind not in ("PLD", "EVE", "CSL"):
            continue
        try:
            when = datetime.strptime(m.group(1), "%Y%m%d_%H%M%S")
        except ValueError:
            continue
        day = (when - NOON).date()  # before noon: the previous ResMed day
        night = nights.setdefault(day, NightDetail())
        stamps.setdefault(day, set()).add(m.group(1))
        rel = str(path.relative_to(card))
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                edf = edfio.read_edf(path, lazy_load_data=True, header_encoding="latin-1")
                if caught:  # edfio warns (and keeps the complete records) when a file is cut short
                    problems.append(
                        Problem(ProblemCode.DATALOG_TRUNCATED, rel, "; ".join(str(w.message) for w in caught))
                    )
                if kind == "PLD":
                    night.minutes += int(edf.num_data_records * edf.data_record_duration) // 60
                elif kind == "EVE":
                    for ann in edf.annotations:
                        night.events[ann.text] = night.events.get(ann.text, 0) + 1
        except Exception as exc:  # any parse failure of one file is that file's problem only
            problems.append(Problem(ProblemCode.DATALOG_UNREADABLE, rel, f"unreadable EDF: {exc}"))
    for day, s in stamps.items():
        nights[day].sessions = len(s)
    return nights


def read_card(card: Path) -> CardRead:
    problems: list[Problem] = []
    if not is_card(card):
        problems.append(Problem(ProblemCode.NOT_A_CARD, ".", "no STR.edf and no DATALOG folder"))
        return CardRead(None, [], problems)
    identity = read_identification(card, problems)
    days: list[DayUsage] = []
    str_path = card / "STR.edf"
    if str_path.is_file():
        raw = str_path.read_bytes()
        crc = card / "STR.crc"
        if crc.is_file() and crc.read_bytes()[:8] != edf_side_crc(raw):
            problems.append(Problem(ProblemCode.CRC_MISMATCH, "STR.crc", "STR.edf does not match STR.crc"))
        result = read_str(raw, "STR.edf", problems)
        days = result.days
        if identity is None and result.serial:
            identity = Identity(result.serial)
    else:
        problems.append(Problem(ProblemCode.STR_MISSING, "STR.edf", "card has no STR.edf daily summary"))
    return CardRead(identity, days, problems, read_datalog(card, problems))
