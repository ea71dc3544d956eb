"""DATALOG files of one session, shaped like those of real AirSense 10/11 cards.

Seen on public real cards (AirSense 10, AirSense 11, AirCurve 10) and reproduced here:

- the EVE file (AirSense 11: EVE and CSL) is stamped a few seconds before the session's PLD and BRP;
- every EVE/CSL file starts with a ``Recording starts`` annotation (onset 0, duration 0);
- AirSense 11 firmware may write ``Obstructive apnea`` and ``Central apnea`` where AirSense 10 writes
  ``Obstructive Apnea`` and ``Central Apnea``;
- a session shorter than a minute leaves files holding a header and no data record, whose record
  count is not 0 (written here as -1, EDF's "unknown").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from passerelle.simulators.cpap.edf_bytes import (
    SignalSpec,
    annotation_records,
    crc_signal,
    edf_header,
    edf_records,
)
from passerelle.simulators.cpap.profile import NightTruth, Profile

RECORDING_STARTS = (0.0, 0.0, "Recording starts")
EVENT_FILES_AHEAD = timedelta(seconds=6)  # EVE/CSL stamp before the PLD/BRP one
AIRSENSE11_SPELLING = {"Obstructive Apnea": "Obstructive apnea", "Central Apnea": "Central apnea"}
PLD_LABELS = ("MaskPress.2s", "Press.2s", "Leak.2s", "RespRate.2s", "TidVol.2s", "Snore.2s", "FlowLim.2s")
ANNOTATION_SAMPLES = 40


def _pld() -> list[SignalSpec]:
    return [SignalSpec(label, 30, b"", "0", "655.34", 0, 32767) for label in PLD_LABELS] + [crc_signal()]


def _brp() -> list[SignalSpec]:
    return [
        SignalSpec("Flow.40ms", 1500, b"L/s", "-2", "2", -1000, 1000),
        SignalSpec("Press.40ms", 1500, b"cmH2O", "0", "40", 0, 2000),
        crc_signal(),
    ]


def _annotations() -> list[SignalSpec]:
    return [SignalSpec("EDF Annotations", ANNOTATION_SAMPLES, b"", "-1", "1", -32768, 32767), crc_signal()]


def _event_kinds(profile: Profile) -> tuple[str, ...]:
    return ("EVE", "CSL") if profile.model == "AirSense11" else ("EVE",)


class _Writer:
    def __init__(self, profile: Profile, start: datetime) -> None:
        self.profile = profile
        self.start = start
        self.rec = f"Startdate {start.strftime('%d-%b-%Y').upper()} X X X SRN={profile.serial}"

    def stamp(self, ahead: timedelta = timedelta(0)) -> str:
        return (self.start - ahead).strftime("%Y%m%d_%H%M%S")

    def edf(
        self,
        specs: list[SignalSpec],
        records: int,
        seconds: str,
        cols: Sequence[np.ndarray] | None,
        plus: str = "",
        ahead: timedelta = timedelta(0),
    ) -> bytes:
        head = edf_header(
            specs,
            start=self.start - ahead,
            records=records,
            record_seconds=seconds,
            recording=self.rec,
            reserved=plus,
        )
        return head if cols is None else head + edf_records(specs, cols)


def session_files(
    profile: Profile, night: NightTruth, start: datetime, real: int, first: bool
) -> dict[str, bytes]:
    """PLD, BRP and event files of one session of ``real`` minutes (the night's events go into the
    event file of its first session)."""
    w = _Writer(profile, start)
    out: dict[str, bytes] = {}
    minutes = max(1, real)
    pld_cols = [np.full((minutes, 30), 500 + i, dtype=np.int16) for i in range(len(PLD_LABELS))]
    out[f"{w.stamp()}_PLD.edf"] = w.edf(_pld(), minutes, "60", pld_cols)
    # BRP: 25 Hz flow and pressure, truncated to a few minutes (size).
    brp_min = min(minutes, profile.brp_minutes)
    wave = (np.sin(np.arange(brp_min * 1500) / 25.0) * 500).astype(np.int16).reshape(brp_min, 1500)
    out[f"{w.stamp()}_BRP.edf"] = w.edf(_brp(), brp_min, "60", [wave, np.full_like(wave, 500)])
    # EDF+D annotations with 0-second records, one TAL per record as the machines write them.
    events = [e for e in night.events if e[0] < real * 60] if first else []
    spelling = AIRSENSE11_SPELLING if profile.model == "AirSense11" else {}
    for kind in _event_kinds(profile):
        written = [(a, b, spelling.get(text, text)) for a, b, text in events] if kind == "EVE" else []
        groups = [[RECORDING_STARTS]] + [[e] for e in written]
        raw = w.edf(
            _annotations(),
            len(groups),
            "0",
            [annotation_records(groups, ANNOTATION_SAMPLES)],
            "EDF+D",
            EVENT_FILES_AHEAD,
        )
        out[f"{w.stamp(EVENT_FILES_AHEAD)}_{kind}.edf"] = raw
    return out


def header_only_files(profile: Profile, start: datetime) -> dict[str, bytes]:
    """The files a session under a minute leaves: every one a header without a data record."""
    w = _Writer(profile, start)
    out = {
        f"{w.stamp()}_PLD.edf": w.edf(_pld(), -1, "60", None),
        f"{w.stamp()}_BRP.edf": w.edf(_brp(), -1, "60", None),
    }
    for kind in _event_kinds(profile):
        out[f"{w.stamp(EVENT_FILES_AHEAD)}_{kind}.edf"] = w.edf(
            _annotations(), -1, "0", None, "EDF+D", EVENT_FILES_AHEAD
        )
    return out
