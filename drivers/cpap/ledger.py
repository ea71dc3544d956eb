"""Import ledger: what was already published, per device, so re-imports publish nothing new.

One small JSON file per device (``<state_dir>/cpap/<source>/devices/<serial>.json``), so a station
that sees thousands of cards rewrites only the devices an import touched. Files are written atomically
(temp file + fsync + rename) and only after the core acknowledged that every event of the import is
in its outbox.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class DeviceLedger:
    # date ISO -> [usage_minutes, after_midnight (-1 unknown), sessions, content hash, summary hash]
    days: dict[str, list[Any]] = field(default_factory=dict)
    periods: dict[str, str] = field(default_factory=dict)  # "<start ISO>" -> content hash
    renewal: str | None = None
    patient_ref: str | None = None


def _write_atomic(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as fh:
        fh.write(json.dumps(doc, separators=(",", ":")))  # dumps is the C encoder; dump is not
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Ledger:
    def __init__(self, root: Path) -> None:
        self.root = root
        problems = root / "problems.json"
        self.problems: set[str] = set(json.loads(problems.read_text())) if problems.exists() else set()

    def _path(self, serial: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", serial)
        return self.root / "devices" / f"{safe}.json"

    def device(self, serial: str) -> DeviceLedger:
        """Read from disk each time: a station sees thousands of cards, memory holds none of them."""
        path = self._path(serial)
        if not path.exists():
            return DeviceLedger()
        d = json.loads(path.read_text())
        return DeviceLedger(d["days"], d["periods"], d["renewal"], d["patient_ref"])

    def known_devices(self) -> list[tuple[str, str | None]]:
        """(serial, patient_ref) of every device with a ledger file (blocking I/O)."""
        out = []
        for path in sorted((self.root / "devices").glob("*.json")):
            doc = json.loads(path.read_text())
            out.append((str(doc["serial"]), doc.get("patient_ref")))
        return out

    def devices(self, serials: Iterable[str]) -> dict[str, DeviceLedger]:
        return {s: self.device(s) for s in serials}

    def commit(self, updated: dict[str, DeviceLedger], problems_key: str | None) -> None:
        """Record an import whose events are all stored (blocking I/O: run it in a thread)."""
        for serial, led in updated.items():
            doc = {
                "serial": serial,
                "days": led.days,
                "periods": led.periods,
                "renewal": led.renewal,
                "patient_ref": led.patient_ref,
            }
            _write_atomic(self._path(serial), doc)
        if problems_key is not None:
            self.problems.add(problems_key)
            _write_atomic(self.root / "problems.json", sorted(self.problems))
