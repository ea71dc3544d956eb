"""DATALOG session files: sessions, minutes and respiratory events per ResMed day.

What real AirSense 10, AirSense 11 and AirCurve 10 cards hold, and this reader relies on:

- each session writes one PLD (and BRP, SAD/SA2) file, and an EVE (AirSense 11: also CSL) file stamped
  a few seconds earlier; so sessions are counted from PLD files, not from distinct time stamps;
- a session shorter than a minute leaves files with a header and no data record (the header's record
  count is not 0): that is a short session, not a truncated file;
- every EVE/CSL file starts with a ``Recording starts`` annotation, which marks the file's start and is
  not an event;
- event names are spelled differently across models and firmware (``Obstructive Apnea`` on AirSense
  10, ``Obstructive apnea`` on some AirSense 11 cards): they are normalised to one spelling.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import edfio

from passerelle.drivers.cpap.problems import Problem, ProblemCode

NOON = timedelta(hours=12)
_STAMP = re.compile(r"^(\d{8}_\d{6})_(\w+)\.edf$", re.IGNORECASE)
# Annotations that mark the recording, not the patient.
NOT_EVENTS = frozenset({"recording starts"})
# One spelling per event kind, keyed by the lower-case name with single spaces.
EVENT_NAMES = {
    name.lower(): name
    for name in (
        "Obstructive Apnea", "Central Apnea", "Apnea", "Hypopnea", "Arousal", "RERA",
        "Flow Limitation", "SpO2 Desaturation", "Cheyne-Stokes Respiration", "Large Leak",
    )
}  # fmt: skip


@dataclass(slots=True)
class NightDetail:
    """DATALOG summary of one ResMed day."""

    sessions: int = 0
    minutes: int = 0  # from the PLD headers (records x record duration)
    events: dict[str, int] = field(default_factory=dict)


def event_name(text: str) -> str | None:
    """The normalised name of an EVE annotation; None for an annotation that is not an event."""
    key = " ".join(text.split()).lower()
    if not key or key in NOT_EVENTS:
        return None
    return EVENT_NAMES.get(key, " ".join(text.split()))


def _header_only(path: Path) -> bool:
    """True for a file that holds its header and no data record at all (a session under a minute)."""
    with path.open("rb") as fh:
        head = fh.read(256)
    try:
        header_bytes = int(head[184:192])
    except ValueError:
        return False  # not even a header: the EDF read reports it
    return header_bytes > 256 and path.stat().st_size == header_bytes


def read_datalog(card: Path, problems: list[Problem]) -> dict[date, NightDetail]:
    """Sessions and event counts per ResMed day from DATALOG (AirSense: per-day folders; S9: flat)."""
    nights: dict[date, NightDetail] = {}
    root = card / "DATALOG"
    if not root.is_dir():
        return nights
    stamps: dict[date, set[str]] = {}
    pld_files: dict[date, int] = {}
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
        if kind == "PLD":
            pld_files[day] = pld_files.get(day, 0) + 1
        rel = str(path.relative_to(card))
        try:
            if _header_only(path):
                continue  # a session under a minute: no minutes, no events, nothing wrong
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
                        name = event_name(ann.text)
                        if name is not None:
                            night.events[name] = night.events.get(name, 0) + 1
        except Exception as exc:  # any parse failure of one file is that file's problem only
            problems.append(Problem(ProblemCode.DATALOG_UNREADABLE, rel, f"unreadable EDF: {exc}"))
    for day, s in stamps.items():
        # Every session has a PLD file; a day with only event files (PLD lost) counts their stamps.
        nights[day].sessions = pld_files.get(day) or len(s)
    return nights
