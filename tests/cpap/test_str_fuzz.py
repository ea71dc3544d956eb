"""Mutated STR.edf files: every one gives typed problems and bounded days, never an exception.

One card is generated once; its STR.edf image is mutated in memory 10,000 times (seeded: the same
mutants every run) and each mutant goes through the library path, reader then periods and renewal.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from passerelle.drivers.cpap.observance import PERIOD_DAYS, compute_periods, renewal_decision
from passerelle.drivers.cpap.plausibility import DAY_MINUTES, day_problems
from passerelle.drivers.cpap.problems import Problem, ProblemCode
from passerelle.drivers.cpap.resmed import read_str
from passerelle.simulators.cpap.card import write_card
from passerelle.simulators.cpap.mutate import KINDS, mutate_str
from passerelle.simulators.cpap.profile import BUILTIN

MUTANTS = 10_000


@pytest.fixture(scope="module")
def str_image(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    root = tmp_path_factory.mktemp("fuzz") / "card"
    card = write_card(replace(BUILTIN["good"], days=120, datalog_nights=0), root, with_csv=False)
    return (card.root / "STR.edf").read_bytes()


def test_ten_thousand_mutated_str_files_end_in_typed_problems(str_image: bytes) -> None:
    unhandled: list[str] = []
    faults: list[str] = []
    kinds: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    for seed in range(MUTANTS):
        mutant = mutate_str(str_image, seed)
        kinds[mutant.kind] += 1
        problems: list[Problem] = []
        try:
            read = read_str(mutant.raw, "STR.edf", problems)
            periods = compute_periods(read.days, excluded=read.excluded)
            renewal_decision(periods)
        except Exception as exc:  # the property under test: there must be none
            unhandled.append(f"seed {seed} ({mutant.kind}, {mutant.detail}): {type(exc).__name__}: {exc}")
            continue
        faults += [f"seed {seed}: {p.message}" for p in problems if p.code is ProblemCode.READER_FAULT]
        outcomes.update(p.code.value for p in problems)
        for d in read.days:  # what reaches the periods is within bounds
            assert day_problems(d.usage_minutes, d.sessions, d.ahi, d.leak_95) == [], (seed, d)
        for p in periods:
            assert 0 <= p.minutes <= PERIOD_DAYS * DAY_MINUTES, (seed, p)
    elapsed = time.perf_counter() - started
    print(f"\n{MUTANTS} mutants in {elapsed:.1f} s; kinds {dict(kinds)}; problems {dict(outcomes)}")
    assert unhandled == [], unhandled[:5]
    assert faults == [], faults[:5]
    assert set(kinds) == set(KINDS)  # every kind of damage was tried
    assert outcomes[ProblemCode.IMPLAUSIBLE_DAY.value] > 0  # forged values were caught as such
    assert outcomes[ProblemCode.STR_UNREADABLE.value] > 0


def test_mutations_are_seeded(str_image: bytes) -> None:
    assert mutate_str(str_image, 42) == mutate_str(str_image, 42)
    assert mutate_str(str_image, 42).raw != str_image


def test_a_few_corrupt_cards_through_the_cli(tmp_path: Path, str_image: bytes) -> None:
    """The command prints problems, never a traceback, whatever the STR.edf holds."""
    from tests.cpap.test_cli import passerelle

    card = write_card(replace(BUILTIN["good"], days=120), tmp_path / "card", with_csv=False)
    first_of_kind: dict[str, int] = {}
    for seed in range(200):
        first_of_kind.setdefault(mutate_str(str_image, seed).kind, seed)
    assert set(first_of_kind) == set(KINDS)
    for seed in first_of_kind.values():  # one card per kind of damage
        mutant = mutate_str(str_image, seed)
        (card.root / "STR.edf").write_bytes(mutant.raw)
        for extra in ((), ("--json",)):
            out = passerelle("observance", str(card.root), *extra)
            assert "Traceback" not in out.stderr, (seed, mutant.kind, out.stderr)
            assert out.returncode in (0, 1), (seed, out.returncode, out.stderr)
            assert out.stdout.strip(), seed
