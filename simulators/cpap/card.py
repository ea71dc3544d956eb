"""Writes a complete ResMed SD-card tree (and the matching CSV export) from a profile."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import numpy as np

from passerelle.drivers.cpap.checksums import edf_side_crc, identification_crc
from passerelle.simulators.cpap.edf_bytes import SignalSpec, crc_signal, edf_header, edf_records
from passerelle.simulators.cpap.profile import NightTruth, Profile, generate
from passerelle.simulators.cpap.session_files import header_only_files, session_files

EPOCH = date(1970, 1, 1)
EMPTY = -1

PRODUCTS = {
    "AirSense10": ("AirSense 10 AutoSet", "37028"),
    "AirSense11": ("AirSense 11 AutoSet", "39483"),
    "S9": ("S9 AutoSet", "36005"),
}


def _one(label: str, pmin: str, pmax: str, dmin: int, dmax: int, dim: bytes = b"") -> SignalSpec:
    return SignalSpec(label, 1, dim, pmin, pmax, dmin, dmax)


# Scales as real AirSense 10/11 and AirCurve 10 cards write them.
def _tenths(label: str) -> SignalSpec:  # events/h, 0.1 resolution, up to 240
    return _one(label, "0", "240", 0, 2400, b"")


def _leak(label: str) -> SignalSpec:  # L/s, 0.02 resolution, up to 2 L/s
    return _one(label, "0", "2", 0, 100, b"L/s")


def _press(label: str) -> SignalSpec:  # cmH2O, 0.02 resolution
    return _one(label, "0", "655.34", 0, 32767, b"cmH2O")


def _plain(label: str, dim: bytes = b"") -> SignalSpec:
    return _one(label, "0", "32767", 0, 32767, dim)


_S9_EN = {  # older labels of S9 machines
    "date": "Date",
    "on": "Mask On",
    "off": "Mask Off",
    "events": "Mask Events",
    "dur": "Mask Dur",
    "ondur": "OnDuration",
    "hours": "Patient Hours",
    "mode": "Mode",
    "ahi": "AHI",
    "l50": "Leak Med",
    "l70": "Leak 70",
    "l95": "Leak 95",
    "lmax": "Leak Max",
    "setp": "Set Pressure",
    "maxp": "Max Pressure",
    "epr": "EPR Level",
}
# Which label each model writes for the values the simulator fills in (the rest get filler).
LABELS = {
    "en": {
        "date": "Date",
        "on": "MaskOn",
        "off": "MaskOff",
        "events": "MaskEvents",
        "dur": "Duration",
        "ondur": "OnDuration",
        "hours": "PatientHours",
        "mode": "Mode",
        "ahi": "AHI",
        "l50": "Leak.50",
        "l70": "Leak.70",
        "l95": "Leak.95",
        "lmax": "Leak.Max",
        "setp": "S.C.Press",
        "maxp": "S.AS.MaxPress",
        "epr": "S.EPR.Level",
    },
    "s9-en": _S9_EN,
    # French S9 machines translate the value signals; the session and duration labels stay English.
    "s9-fr": {
        **_S9_EN,
        "ahi": "IAH",
        "l50": "Fuites Med",
        "l70": "Fuites 70",
        "l95": "Fuites 95",
        "lmax": "Fuites Max",
        "setp": "Pres. prescrite",
        "maxp": "Pression max.",
        "epr": "Niveau EPR",
    },
}

# Remaining AirSense 10 AutoSet STR signals (1 sample each), in file order after the key ones.
FILLER = [
    "S.RampEnable", "S.RampTime", "S.C.StartPress", "S.AS.Comfort", "S.AS.StartPress", "S.AS.MinPress",
    "S.EPR.ClinEnable", "S.EPR.EPREnable", "S.EPR.EPRType", "S.SmartStart", "S.PtAccess",
    "S.ABFilter", "S.Mask", "S.Tube", "S.ClimateControl", "S.HumEnable", "S.HumLevel", "S.TempEnable",
    "S.Temp", "HeatedTube", "Humidifier", "BlowPress.95", "BlowPress.5", "Flow.95", "Flow.5",
    "BlowFlow.50", "AmbHumidity.50", "HumTemp.50", "HTubeTemp.50", "HTubePow.50", "HumPow.50",
    "SpO2.50", "SpO2.95", "SpO2.Max", "SpO2Thresh", "MaskPress.50", "MaskPress.95", "MaskPress.Max",
    "TgtIPAP.50", "TgtIPAP.95", "TgtIPAP.Max", "TgtEPAP.50", "TgtEPAP.95", "TgtEPAP.Max", "MinVent.50",
    "MinVent.95", "MinVent.Max", "RespRate.50", "RespRate.95", "RespRate.Max", "TidVol.50", "TidVol.95",
    "TidVol.Max", "HI", "AI", "OAI", "CAI", "UAI", "RIN", "CSR", "Fault.Device", "Fault.Alarm",
    "Fault.Humidifier", "Fault.HeatedTube",
]  # fmt: skip
DEGREES = "°C".encode()  # UTF-8 in an ASCII field: the quirk strict readers trip on


@dataclass(frozen=True, slots=True)
class WrittenCard:
    root: Path
    nights: list[NightTruth]
    csv_path: Path | None


def session_slots(profile: Profile) -> int:
    """MaskOn/MaskOff slots per day: 20 on AirSense 11 (a real card used 14 in one day), else 10."""
    return 20 if profile.model == "AirSense11" else 10


def str_signals(profile: Profile) -> list[SignalSpec]:
    lab = LABELS["en" if profile.model != "S9" else f"s9-{profile.language}"]
    slots = session_slots(profile)
    specs = [
        _one(lab["date"], "0", "32767", 0, 32767, b"days"),
        SignalSpec(lab["on"], slots, b"min", "0", "1440", 0, 1440),
        SignalSpec(lab["off"], slots, b"min", "0", "1440", 0, 1440),
        _plain(lab["events"]),
        _one(lab["dur"], "0", "1440", 0, 1440, b"min"),
        _one(lab["ondur"], "0", "1440", 0, 1440, b"min"),
        _one(lab["hours"], "0", "65534", 0, 65534, b"h"),  # dmax 65534: beyond int16, a ResMed quirk
        _plain(lab["mode"]),
        _tenths(lab["ahi"]),
        _leak(lab["l50"]),
        _leak(lab["l70"]),
        _leak(lab["l95"]),
        _leak(lab["lmax"]),
        _press(lab["setp"]),
        _press(lab["maxp"]),
        _plain(lab["epr"]),
    ]
    for label in FILLER:
        if label.endswith("Temp") or label.startswith(("HumTemp", "HTubeTemp")):
            specs.append(_one(label, "0", "100", 0, 1000, DEGREES))
        else:
            specs.append(_plain(label))
    specs = specs[:80]
    specs.append(crc_signal())
    return specs  # AirSense 10 AutoSet: 81 signals, 99 samples per record


def _slots(values: Sequence[int], count: int) -> list[int]:
    return (list(values) + [EMPTY] * count)[:count]


def str_bytes(profile: Profile, nights: Sequence[NightTruth]) -> bytes:
    specs = str_signals(profile)
    n = len(nights)
    cols: list[np.ndarray] = []
    used = np.array([bool(t.mask_on) for t in nights])
    hours = 1200
    patient_hours = []
    for t in nights:
        hours += t.usage_minutes // 60
        patient_hours.append(min(hours, 32767))

    def one(values: Sequence[int]) -> np.ndarray:
        arr = np.array(values, dtype=np.int16).reshape(n, 1)
        arr[~used] = EMPTY  # on days without use every signal except Date is -1
        return arr

    cols.append(np.array([(t.day - EPOCH).days for t in nights], dtype=np.int16).reshape(n, 1))
    k = session_slots(profile)
    on = np.array([_slots(t.mask_on, k) for t in nights], dtype=np.int16).reshape(n, k)
    off = np.array([_slots(t.mask_off, k) for t in nights], dtype=np.int16).reshape(n, k)
    cols += [on, off]
    cols.append(one([sum(1 for v in t.mask_on + t.mask_off if v != EMPTY) for t in nights]))
    cols.append(one([t.usage_minutes for t in nights]))
    cols.append(one([t.usage_minutes + (t.day.toordinal() % 3) for t in nights]))  # OnDuration differs
    cols.append(one(patient_hours))
    cols.append(one([1] * n))  # APAP
    cols.append(one([t.ahi_tenths for t in nights]))
    cols += [one([getattr(t, k) for t in nights]) for k in ("leak_50", "leak_70", "leak_95", "leak_max")]
    cols += [one([500] * n), one([1000] * n), one([2] * n)]  # 10 / 20 cmH2O, EPR 2
    for spec in specs[len(cols) : -1]:
        cols.append(one([250 if spec.dimension == DEGREES else 1] * n))
    first = datetime.combine(nights[0].day, time(12, 0))
    head = edf_header(
        specs,
        start=first,
        records=n,
        record_seconds="86400",
        recording=_recording_id(first, profile.serial),
    )
    return head + edf_records(specs, cols)


def _recording_id(start: datetime, serial: str) -> str:
    return f"Startdate {start.strftime('%d-%b-%Y').upper()} X X X SRN={serial} MID=36 VID=39"


def identification(profile: Profile) -> tuple[str, bytes]:
    name, code = PRODUCTS[profile.model]
    if profile.model == "AirSense11":
        doc = {
            "FlowGenerator": {
                "IdentificationProfiles": {
                    "Product": {"SerialNumber": profile.serial, "ProductCode": code, "ProductName": name},
                    "Software": {"PlatformSoftwarePartNumber": "SW04600-01-00"},
                }
            }
        }
        return "Identification.json", json.dumps(doc, indent=2).encode()
    lines = [
        "#IMF 0001",
        "#VIR 0064",
        f"#SRN {profile.serial}",
        "#SID SX577-0200",
        f"#PNA {name.replace(' ', '_')}",
        f"#PCD {code}",
        "#MID 0024",
        "#FGT 29_M18_V39",
    ]
    return "Identification.tgt", ("\r\n".join(lines) + "\r\n").encode()


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(exist_ok=True)
    for fname, raw in files.items():
        (folder / fname).write_bytes(raw)
        (folder / fname.replace(".edf", ".crc")).write_bytes(edf_side_crc(raw))


def write_card(profile: Profile, out_dir: Path, *, with_csv: bool = True) -> WrittenCard:
    """Write the card under ``out_dir`` (created); return the truth it was written from."""
    nights = generate(profile)
    out_dir.mkdir(parents=True, exist_ok=True)
    name, ident = identification(profile)
    (out_dir / name).write_bytes(ident)
    (out_dir / "Identification.crc").write_bytes(identification_crc(ident))
    str_raw = str_bytes(profile, nights)
    (out_dir / "STR.edf").write_bytes(str_raw)
    (out_dir / "STR.crc").write_bytes(edf_side_crc(str_raw))
    (out_dir / "SETTINGS").mkdir(exist_ok=True)
    datalog = out_dir / "DATALOG"
    datalog.mkdir(exist_ok=True)
    with_use = [t for t in nights if t.sessions][-profile.datalog_nights :] if profile.datalog_nights else []
    for night in with_use:
        # Folder = ResMed day of the file's time (before noon -> previous day): the night's label.
        folder = datalog if profile.model == "S9" else datalog / night.day.strftime("%Y%m%d")
        for k, (start, real) in enumerate(night.sessions):
            _write_files(folder, session_files(profile, night, start, real, k == 0))
        for start in night.blips:
            _write_files(folder, header_only_files(profile, start))
    csv_path = write_csv(profile, nights, out_dir.parent / f"{out_dir.name}-export.csv") if with_csv else None
    return WrittenCard(out_dir, nights, csv_path)


CSV_HEADER = ["Numéro de série", "Référence patient", "Date", "Utilisation (h)", "IAH", "Fuites 95 (L/min)"]


def write_csv(profile: Profile, nights: Sequence[NightTruth], path: Path) -> Path:
    """The cloud-platform style export: ';', decimal comma, dd/mm/yyyy, hours with 2 decimals."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(CSV_HEADER)
        for t in nights:
            hours = f"{t.usage_minutes / 60:.2f}".replace(".", ",")  # 0.01 h < 1 min: round-trips
            w.writerow(
                [
                    profile.serial,
                    profile.patient_ref,
                    t.day.strftime("%d/%m/%Y"),
                    hours,
                    f"{t.ahi_tenths / 10:.1f}".replace(".", ",") if t.sessions else "",
                    f"{t.leak_95 * 1.2:.1f}".replace(".", ",") if t.sessions else "",
                ]
            )
    return path
