"""Whether our decoder agrees with an upstream verdict on one public vector.

Kept free of anything but ``decode_text`` so the same comparison can be run on an older checkout
(``python -m tests.unit.drivers.scanner.vectors.agreement`` with that checkout first on PYTHONPATH) to measure
agreement before a change.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from passerelle.drivers.scanner.decode import decode_text

HERE = Path(__file__).parent
TODAY = date(2026, 11, 24)
GS = "\x1d"
# Upstream syntax checkers judge one message alone; AI pairing is checked by its own vectors.
PAIRING = {"required_ai_missing", "excluded_ai_pair"}
# Upstream runs some vectors with options away from its defaults. Only "unknown AIs allowed" is
# kept: it is set for whole groups of association vectors that mostly use known AIs.
KEPT_OPTIONS = {"PermitUnknownAIs"}


def applicable(vector: dict[str, Any]) -> bool:
    """False for vectors of an upstream mode we do not offer (zero-suppressed GTINs or
    convenience alphas in digital links, unknown AIs as link attributes)."""
    return set(vector.get("upstream_options", [])) <= KEPT_OPTIONS


def scan_text(vector: dict[str, Any]) -> str:
    """The text a scanner would send for this vector."""
    data: str = vector["input"]
    for separator in vector.get("separators", []):
        data = data.replace(separator, GS)
    if vector["set"] == "raw_ai_data" and data.startswith("^"):
        return "]C1" + data[1:].replace("^", GS)  # upstream writes FNC1 as "^"
    if vector["set"] in ("message", "element"):
        return "]C1" + data
    if vector["set"] == "digital_link" and vector["check"] == "scan":
        return "]Q1" + data
    return data


def agrees(vector: dict[str, Any]) -> bool:
    payload = decode_text(scan_text(vector), today=TODAY)
    problems = {str(p) for p in payload.problems}
    check = vector["check"]
    if check == "repeats":
        accepted = "repeated_ai_conflict" not in problems
    elif check in ("pairing", "digsig"):
        accepted = not problems & PAIRING
    elif check == "scan" and vector["set"] == "scan_data":
        accepted = payload.valid
    elif check == "scan":
        accepted = payload.kind == "gs1" and payload.valid
    else:
        accepted = payload.kind == "gs1" and not problems - PAIRING
        if accepted and "hri" in vector:
            accepted = "".join(f"({e.ai}){e.value}" for e in payload.elements or []) == vector["hri"]
    expected_ok: bool = vector["expect"] == "ok"
    return accepted == expected_ok


def load(name: str) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((HERE / f"{name}.json").read_text())["vectors"]
    return vectors


def report() -> None:
    for name in ("gs1_syntax_engine", "biip"):
        totals: Counter[str] = Counter()
        agreed: Counter[str] = Counter()
        disagreements = []
        vectors = load(name)
        for vector in vectors:
            if not applicable(vector):
                continue
            totals[vector["set"]] += 1
            if agrees(vector):
                agreed[vector["set"]] += 1
            else:
                disagreements.append(vector["source"])
        skipped = len(vectors) - sum(totals.values())
        agreeing, total = sum(agreed.values()), sum(totals.values())
        print(f"{name}: {agreeing}/{total} agree ({skipped} in upstream-only modes)")
        for vector_set in sorted(totals):
            print(f"  {vector_set}: {agreed[vector_set]}/{totals[vector_set]}")
        if "-v" in sys.argv:
            print("  disagree:", " ".join(disagreements))


if __name__ == "__main__":
    report()
