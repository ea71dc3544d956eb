"""ResMed SD card reader (AirSense 10/11, S9) on top of edfio.

pyedflib refuses ResMed STR/EVE files (UTF-8 ``°C``, digital maximum 65534); edfio reads them. Every
damaged file becomes a typed :class:`Problem` and the rest of the card is still read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from passerelle.drivers.cpap.checksums import edf_side_crc, identification_crc
from passerelle.drivers.cpap.datalog import NightDetail, read_datalog
from passerelle.drivers.cpap.observance import DayUsage
from passerelle.drivers.cpap.plausibility import ExcludedDay
from passerelle.drivers.cpap.problems import Problem, ProblemCode
from passerelle.drivers.cpap.str_file import StrRead, read_str

__all__ = ["CardRead", "Identity", "NightDetail", "StrRead", "is_card", "read_card", "read_str"]

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
class CardRead:
    identity: Identity | None
    days: list[DayUsage]
    problems: list[Problem]
    datalog: dict[date, NightDetail] = field(default_factory=dict)
    excluded: list[ExcludedDay] = field(default_factory=list)  # implausible STR days, left out


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


def read_card(card: Path) -> CardRead:
    problems: list[Problem] = []
    if not is_card(card):
        problems.append(Problem(ProblemCode.NOT_A_CARD, ".", "no STR.edf and no DATALOG folder"))
        return CardRead(None, [], problems)
    identity = read_identification(card, problems)
    days: list[DayUsage] = []
    excluded: list[ExcludedDay] = []
    str_path = card / "STR.edf"
    if str_path.is_file():
        raw = str_path.read_bytes()
        crc = card / "STR.crc"
        if crc.is_file() and crc.read_bytes()[:8] != edf_side_crc(raw):
            problems.append(Problem(ProblemCode.CRC_MISMATCH, "STR.crc", "STR.edf does not match STR.crc"))
        result = read_str(raw, "STR.edf", problems)
        days = result.days
        excluded = result.excluded
        if identity is None and result.serial:
            identity = Identity(result.serial)
    else:
        problems.append(Problem(ProblemCode.STR_MISSING, "STR.edf", "card has no STR.edf daily summary"))
    return CardRead(identity, days, problems, read_datalog(card, problems), excluded)
