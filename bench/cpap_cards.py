"""1,000 simulated SD cards imported the way the feed driver does it (read the card, plan the events
against the ledger, commit the ledger): total time and per-card percentiles. Card generation is not
timed.

    .venv/bin/python -m bench.cpap_cards [--cards 1000] [--days 365]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from passerelle.drivers.cpap.config import CpapSection
from passerelle.drivers.cpap.feed import DeviceBatch, plan_import
from passerelle.drivers.cpap.ledger import Ledger
from passerelle.drivers.cpap.resmed import read_card
from passerelle.simulators.cpap.card import write_card
from passerelle.simulators.cpap.profile import BUILTIN


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def import_card(path: Path, ledger: Ledger, section: CpapSection) -> int:
    card = read_card(path)
    assert card.identity is not None, card.problems
    batch = DeviceBatch(card.identity, card.days, None, card.datalog)
    plan = plan_import(
        [batch],
        card.problems,
        source="bench",
        kind="sdcard",
        section=section,
        ledgers=ledger.devices([card.identity.serial]),
        known_problems=ledger.problems,
        today=date(2026, 11, 24),
    )
    ledger.commit(plan.ledgers, plan.problems_key)
    return len(plan.events)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    profiles = [BUILTIN[name] for name in ("good", "borderline", "poor", "holidays", "as11", "s9-french")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        cards = []
        for i in range(args.cards):
            base = profiles[i % len(profiles)]
            profile = replace(
                base, serial=f"2320{i:07d}", seed=i, days=args.days, datalog_nights=1, brp_minutes=1
            )
            cards.append(write_card(profile, root / "cards" / f"card{i:04d}", with_csv=False).root)
        print(
            f"generated {len(cards)} cards of {args.days} days "
            f"in {time.perf_counter() - t0:.1f} s (not timed)"
        )
        ledger = Ledger(root / "state" / "cpap" / "bench")
        section = CpapSection()
        per_card: list[float] = []
        events = 0
        t0 = time.perf_counter()
        for path in cards:
            t1 = time.perf_counter()
            events += import_card(path, ledger, section)
            per_card.append(time.perf_counter() - t1)
        total = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = sum(import_card(path, ledger, section) for path in cards)
        total_again = time.perf_counter() - t0
        ms = [x * 1000 for x in per_card]
        print(f"first import : {len(cards)} cards, {events} events planned, total {total:.2f} s")
        print(
            f"per card     : median {statistics.median(ms):.2f} ms, p90 {percentile(ms, 0.9):.2f} ms, "
            f"p99 {percentile(ms, 0.99):.2f} ms, max {max(ms):.2f} ms"
        )
        print(f"re-import    : {again} events (idempotent), total {total_again:.2f} s")


if __name__ == "__main__":
    main()
