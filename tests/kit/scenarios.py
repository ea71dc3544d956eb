"""For each installed family: a configuration section pointing its real drivers at its simulator, and
an action that makes the simulator produce events (tests/kit/test_conformance.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from passerelle.simulators.card.virtual_cards import make_card
from passerelle.simulators.cpap.card import write_card
from passerelle.simulators.cpap.profile import BUILTIN
from passerelle.simulators.scanner.serial_sim import SerialScannerSimulator
from tests.kit.thermometer.simulator import ThermometerSimulator


@dataclass(frozen=True, slots=True)
class Scenario:
    section: dict[str, Any]  # the family's configuration section
    produce: Callable[[], Awaitable[None]]  # make the simulator produce at least one event


ScenarioFactory = Callable[[Path, pytest.FixtureRequest], contextlib.AbstractAsyncContextManager[Scenario]]


@contextlib.asynccontextmanager
async def scanner(workdir: Path, request: pytest.FixtureRequest) -> AsyncIterator[Scenario]:
    with SerialScannerSimulator(workdir / "ttyscan") as simulator:  # a pty, as a virtual COM port
        section = {"devices": [{"id": "kit-serial", "driver": "serial", "path": str(simulator.link)}]}
        yield Scenario(section, lambda: simulator.scan("]C010101234564"))


@contextlib.asynccontextmanager
async def card(workdir: Path, request: pytest.FixtureRequest) -> AsyncIterator[Scenario]:
    pcscd = request.getfixturevalue("pcscd")  # the isolated pcscd + vpcd (tests/card/conftest.py)
    slots = request.getfixturevalue("slots")

    async def insert() -> None:
        slots.insert(make_card("vitale2"), slot=0)

    yield Scenario({"devices": [{"pcsc_socket": str(pcscd.socket_path)}]}, insert)


@contextlib.asynccontextmanager
async def cpap(workdir: Path, request: pytest.FixtureRequest) -> AsyncIterator[Scenario]:
    media = workdir / "media"
    media.mkdir()
    written = write_card(replace(BUILTIN["good"], days=30), workdir / "staging" / "card", with_csv=False)

    async def insert() -> None:
        os.replace(written.root, media / "card")  # the card appears, like a mount

    yield Scenario(
        {"devices": [{"id": "kit-sd", "kind": "sdcard", "path": str(media), "settle_seconds": 0.1}]}, insert
    )


@contextlib.asynccontextmanager
async def synthetic(workdir: Path, request: pytest.FixtureRequest) -> AsyncIterator[Scenario]:
    async def nothing() -> None:  # the pattern runs by itself
        return None

    yield Scenario({"devices": [{"id": "kit-pattern", "rate": 20, "count": 3, "resume": False}]}, nothing)


@contextlib.asynccontextmanager
async def thermometer(workdir: Path, request: pytest.FixtureRequest) -> AsyncIterator[Scenario]:
    simulator = ThermometerSimulator(workdir / "thermometer.txt")

    async def read() -> None:
        simulator.read(21.5)

    yield Scenario({"devices": [{"id": "kit-room", "path": str(simulator.path)}]}, read)


SCENARIOS: dict[str, ScenarioFactory] = {
    "scanner": scanner,
    "card": card,
    "cpap": cpap,
    "synthetic": synthetic,
    "thermometer": thermometer,
}
