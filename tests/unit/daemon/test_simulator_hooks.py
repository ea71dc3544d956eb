"""``passerelle.simulators`` entry points: a family whose simulator is missing or broken keeps working,
and ``passerelle simulate <family>`` says why instead of failing with argparse's "invalid choice"."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from importlib.metadata import EntryPoint, EntryPoints
from importlib.metadata import entry_points as installed

import pytest

from passerelle.daemon import cli, entry_points
from passerelle.daemon.doctor import checks_for
from passerelle.daemon.family import DoctorCheck, load_families
from passerelle.daemon.simulator_hooks import (
    SIMULATOR_ENTRY_POINT_GROUP,
    SimulatorHooks,
    load_simulators,
    simulator_checks,
)
from passerelle.simulators.card.hooks import SIMULATOR as CARD_SIMULATOR


@pytest.fixture
def simulators(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EntryPoint]]:
    """The ``passerelle.simulators`` group as a test sets it (empty: no simulator installed); the
    families' group stays the installed one. Loading is cached per process: cleared around the test."""
    simulators: list[EntryPoint] = []

    def fake(*, group: str) -> EntryPoints:
        return EntryPoints(simulators) if group == SIMULATOR_ENTRY_POINT_GROUP else installed(group=group)

    monkeypatch.setattr(entry_points, "entry_points", fake)
    entry_points.forget_loaded_plugins()
    yield simulators
    entry_points.forget_loaded_plugins()


def simulator_entry(name: str, value: str) -> EntryPoint:
    return EntryPoint(name, value, SIMULATOR_ENTRY_POINT_GROUP)


def test_the_installed_simulators_register_under_their_family() -> None:
    loaded, errors = load_simulators()
    assert errors == []
    assert set(loaded) == {"card", "cpap", "scanner"}
    assert set(loaded) <= set(load_families()[0])
    hooks: SimulatorHooks = loaded["card"]
    assert hooks is CARD_SIMULATOR


def test_simulate_without_the_simulator_says_it_is_not_installed(
    simulators: list[EntryPoint], capsys: pytest.CaptureFixture[str]
) -> None:
    # Options of the real command are accepted too: the message comes whatever was typed.
    assert cli.main(["simulate", "card", "vitale2", "--slot", "1"]) == cli.EX_UNAVAILABLE
    err = capsys.readouterr().err
    assert "passerelle simulate card: the card simulator package is not installed" in err
    assert SIMULATOR_ENTRY_POINT_GROUP in err


def test_a_simulator_that_fails_to_load_is_reported_not_raised(
    simulators: list[EntryPoint], capsys: pytest.CaptureFixture[str]
) -> None:
    simulators.append(simulator_entry("card", "passerelle.simulators.card.no_such_module:SIMULATOR"))
    simulators.append(simulator_entry("cpap", "passerelle.simulators.cpap.hooks:SIMULATOR"))
    loaded, errors = load_simulators()
    assert set(loaded) == {"cpap"}
    assert [(e.name, e.reason.split(":")[0]) for e in errors] == [("card", "ModuleNotFoundError")]

    assert cli.main(["simulate", "card", "cps3"]) == cli.EX_UNAVAILABLE
    assert "card simulator package is unavailable: ModuleNotFoundError" in capsys.readouterr().err
    doctor = {c.name: c for c in checks_for(None, [], {}, [])}
    assert not doctor["card simulator"].ok and "no_such_module" in doctor["card simulator"].detail


def test_the_other_commands_keep_rejecting_unknown_arguments(
    simulators: list[EntryPoint], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["atr", "3B 75", "--bogus"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


class BrokenDoctor:
    family = "card"

    def doctor(self) -> Sequence[DoctorCheck]:
        raise OSError("no /usr/sbin")


def test_a_failing_simulator_check_does_not_hide_the_others() -> None:
    checks = simulator_checks({"card": BrokenDoctor(), "card-too": CARD_SIMULATOR}, [])  # type: ignore[dict-item]
    assert checks[0] == DoctorCheck("card simulator", False, "check failed: no /usr/sbin")
    assert checks[1].name.startswith("unshare and mount")
