"""Import ledger: what was already published, per device, so re-imports publish nothing new.

Written atomically (temp file + rename) only after the core acknowledged that every event of the
import is in its outbox.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class DeviceLedger:
    # date ISO -> [usage_minutes, after_midnight (-1 unknown), sessions, content hash]
    days: dict[str, list[Any]] = field(default_factory=dict)
    periods: dict[str, str] = field(default_factory=dict)  # "<start ISO>" -> content hash
    renewal: str | None = None
    patient_ref: str | None = None


@dataclass(slots=True)
class Ledger:
    path: Path
    devices: dict[str, DeviceLedger] = field(default_factory=dict)
    problems: set[str] = field(default_factory=set)  # hashes of problem sets already reported

    @classmethod
    def load(cls, path: Path) -> Ledger:
        ledger = cls(path)
        if not path.exists():
            return ledger
        raw = json.loads(path.read_text())
        for serial, d in raw.get("devices", {}).items():
            ledger.devices[serial] = DeviceLedger(
                d.get("days", {}), d.get("periods", {}), d.get("renewal"), d.get("patient_ref")
            )
        ledger.problems = set(raw.get("problems", []))
        return ledger

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "version": 1,
            "devices": {
                s: {"days": d.days, "periods": d.periods, "renewal": d.renewal, "patient_ref": d.patient_ref}
                for s, d in self.devices.items()
            },
            "problems": sorted(self.problems),
        }
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as fh:
            json.dump(doc, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
