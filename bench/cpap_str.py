"""One year of STR.edf -> days + 28-day periods + renewal, against a raw edfio read of the same
file in the same process. Prints medians and ratios.

    .venv/bin/python -m bench.cpap_str [--runs 500]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import edfio

from passerelle.drivers.cpap.observance import compute_periods, renewal_decision
from passerelle.drivers.cpap.problems import Problem
from passerelle.drivers.cpap.resmed import read_str
from passerelle.simulators.cpap.card import write_card
from passerelle.simulators.cpap.profile import BUILTIN


def median_us(fn: Callable[[], object], runs: int) -> float:
    fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        card = write_card(BUILTIN["good"], Path(tmp) / "card", with_csv=False)
        path = card.root / "STR.edf"
        print(f"STR.edf: {path.stat().st_size} bytes, {len(card.nights)} daily records")

        def raw_digital() -> None:
            edf = edfio.read_edf(path)
            for sig in edf.signals:
                _ = sig.digital

        def raw_physical() -> None:
            edf = edfio.read_edf(path)
            for sig in edf.signals:
                _ = sig.data

        def ours(verify_crc: bool) -> Callable[[], object]:
            def run() -> object:
                problems: list[Problem] = []
                days = read_str(path.read_bytes(), "STR.edf", problems, verify_crc=verify_crc).days
                return renewal_decision(compute_periods(days))

            return run

        # Interleave the measures so that machine noise hits all of them alike.
        results: dict[str, list[float]] = {"digital": [], "physical": [], "ours": [], "ours_nocrc": []}
        for _ in range(5):
            results["digital"].append(median_us(raw_digital, args.runs // 5))
            results["physical"].append(median_us(raw_physical, args.runs // 5))
            results["ours"].append(median_us(ours(True), args.runs // 5))
            results["ours_nocrc"].append(median_us(ours(False), args.runs // 5))
        m = {k: statistics.median(v) for k, v in results.items()}
        print(f"raw edfio read, all signals digital : {m['digital']:8.0f} us")
        print(f"raw edfio read, all signals physical: {m['physical']:8.0f} us")
        print(f"days+periods+renewal (record CRCs)  : {m['ours']:8.0f} us")
        print(f"days+periods+renewal (no CRC check) : {m['ours_nocrc']:8.0f} us")
        for base in ("digital", "physical"):
            print(
                f"ratio vs {base:8} read: {m['ours'] / m[base]:.2f}x "
                f"(no CRC {m['ours_nocrc'] / m[base]:.2f}x)"
            )
        print("target: <= 1.3x")


if __name__ == "__main__":
    main()
