"""Scenario files: named scans fed to both simulators and to the demo."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

SCENARIO_DIR = Path(__file__).parent / "scenarios"


@dataclass(frozen=True)
class Scan:
    name: str
    text: str
    note: str = ""


def load_scenario(name_or_path: str = "psad") -> list[Scan]:
    path = Path(name_or_path)
    if not path.exists():
        path = SCENARIO_DIR / f"{name_or_path}.toml"
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return [Scan(entry["name"], entry["text"], entry.get("note", "")) for entry in data["scan"]]
