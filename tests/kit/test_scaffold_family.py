"""A family written by ``passerelle scaffold family`` passes ruff, ruff format and mypy strict as it
stands, its unit test passes, and its driver runs under the real daemon: its simulator's reading
arrives on the declared topic, valid against the schema derived from the declaration; on the shared
loop, it follows its device (a file or a FIFO) as it appears, writes and goes away.

The family is generated outside the repository, under a throw-away top-level package (``--package``),
and installed like the kit's thermometer: a ``*.dist-info`` with entry_points.txt on ``sys.path``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from passerelle.daemon.broker import PrivateBroker
from passerelle.daemon.cli import main
from passerelle.daemon.driver import DeviceChange, DeviceState, DriverEvent, DriverItem
from passerelle.daemon.entry_points import forget_loaded_plugins
from passerelle.daemon.family import family_problems, load_families
from passerelle.daemon.simulator_hooks import load_simulators
from tests.kit.drive import check_events, run_scenario
from tests.kit.scenarios import Scenario

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the worktree's .venv/bin
PACKAGE = "scaffolded"  # sorts after "passerelle": the generated imports stay in order under isort
NAME = "hygrometer"
LONGEST = "abcdefghij_klmnopqrst_uvwxyz_abc"  # 32 characters, the most a family name has


@dataclass(frozen=True, slots=True)
class Generated:
    base: Path  # on sys.path: holds the package
    root: Path  # the package, laid out like a checkout


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    base = tmp_path_factory.mktemp("scaffold")
    root = base / PACKAGE
    for package in ("", "drivers", "simulators", "tests", "tests/unit", "tests/unit/drivers"):
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").touch()
    (root / "pyproject.toml").write_text('[project]\nname = "passerelle"\nversion = "0"\n')
    for name in (NAME, LONGEST):
        assert main(["scaffold", "family", name, "--root", str(root), "--package", PACKAGE]) == 0
    dist_info = base / "site" / f"{PACKAGE}-0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: 0\n")
    (dist_info / "entry_points.txt").write_text(
        f"[passerelle.families]\n{NAME} = {PACKAGE}.drivers.{NAME}:FAMILY\n\n"
        f"[passerelle.simulators]\n{NAME} = {PACKAGE}.simulators.{NAME}.hooks:SIMULATOR\n"
    )
    added = [str(base), str(dist_info.parent)]
    sys.path[:0] = added
    importlib.invalidate_caches()
    forget_loaded_plugins()
    try:
        yield Generated(base, root)
    finally:
        for path in added:
            sys.path.remove(path)
        for module in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[module]
        importlib.invalidate_caches()
        forget_loaded_plugins()


def run(*command: str | Path, cwd: Path = REPO, **env: str) -> None:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{command[0]}:\n{done.stdout}\n{done.stderr}"


def test_generated_code_passes_ruff_and_mypy_strict(generated: Generated) -> None:
    paths = [generated.root / folder for folder in ("drivers", "simulators", "tests")]
    # The repository's settings, with the throw-away package first-party like `passerelle`.
    first_party = f"lint.isort.known-first-party=['{PACKAGE}']"
    config = ["--config", str(REPO / "pyproject.toml"), "--config", first_party]
    run(BIN / "ruff", "check", "--no-cache", *config, *paths)
    run(BIN / "ruff", "format", "--check", "--no-cache", *config, *paths)
    files = sorted(generated.root.rglob("*.py"))
    run(BIN / "mypy", "--config-file", REPO / "pyproject.toml", *files, MYPYPATH=str(generated.base))


def test_generated_unit_test_passes(generated: Generated) -> None:
    tests = generated.root / "tests" / "unit" / "drivers" / NAME
    pytest_alone = ["-c", os.devnull, "-p", "no:cacheprovider"]  # not the repository's conftest and options
    run(sys.executable, "-m", "pytest", "-q", *pytest_alone, tests, cwd=generated.base)


def test_generated_family_is_installed_with_its_simulator(generated: Generated) -> None:
    families, errors = load_families()
    assert errors == []
    assert family_problems(families[NAME], NAME) == []
    simulators, errors = load_simulators()
    assert errors == []
    assert simulators[NAME].family == NAME


@contextlib.asynccontextmanager
async def scenario(workdir: Path) -> AsyncIterator[Scenario]:
    """What the scaffold prints for tests/kit/scenarios.py, with the generated simulator."""
    simulator = importlib.import_module(f"{PACKAGE}.simulators.{NAME}.simulator")
    device = simulator.HygrometerSimulator(workdir / f"{NAME}.txt")

    async def read() -> None:
        device.read(21.5)

    yield Scenario({"devices": [{"id": f"kit-{NAME}", "path": str(device.path)}]}, read)


async def test_generated_driver_publishes_its_simulator_reading(
    generated: Generated, broker: PrivateBroker, tmp_path: Path
) -> None:
    families, _ = load_families()
    async with scenario(tmp_path) as ready:
        mqtt = await run_scenario(NAME, families, ready, broker, tmp_path)
    [message] = check_events(mqtt, families, NAME)
    assert message.topic == f"passerelle/test/{NAME}"
    assert message.json()["schema"] == f"passerelle.{NAME}.reading/1"
    assert message.json()["data"] == {"value": 21.5}


async def _next_item(items: AsyncIterator[DriverItem]) -> DriverItem:
    return await asyncio.wait_for(anext(items), 5)


@pytest.mark.parametrize("kind", ["file", "fifo"])
async def test_generated_driver_follows_its_device_on_the_shared_loop(
    generated: Generated, tmp_path: Path, kind: str
) -> None:
    family = importlib.import_module(f"{PACKAGE}.drivers.{NAME}")
    driver_module = importlib.import_module(f"{PACKAGE}.drivers.{NAME}.driver")
    path = tmp_path / "device"
    driver = driver_module.HygrometerDriver(family.HygrometerDevice(id="room", path=path), 0.05)
    await driver.start()
    items = driver.events()
    try:
        absent = await _next_item(items)
        assert isinstance(absent, DeviceChange)
        assert absent.device.state == DeviceState.OFFLINE
        assert absent.device.problem == "No such file or directory"
        if kind == "fifo":
            os.mkfifo(path)
        else:
            path.write_text("19.0\n")  # before the device was opened: history, not news
        online = await _next_item(items)
        assert isinstance(online, DeviceChange)
        assert online.device.state == DeviceState.ONLINE
        with path.open("a") as device:  # a FIFO's writer: opens at once, the driver reads it
            device.write("21.5\nwarm\n22")
            device.flush()
            reading = await _next_item(items)
            assert isinstance(reading, DriverEvent)
            assert reading.data.model_dump() == {"value": 21.5}
        path.unlink()  # unplugged: the unfinished line is drained, then the device is offline
        drained = await _next_item(items)
        assert isinstance(drained, DriverEvent)
        assert drained.data.model_dump() == {"value": 22.0}
        gone = await _next_item(items)
        assert isinstance(gone, DeviceChange)
        assert gone.device.state == DeviceState.OFFLINE
    finally:
        await items.aclose()
        await driver.stop()


async def test_generated_simulator_hooks_simulate_and_demo(generated: Generated, tmp_path: Path) -> None:
    path = tmp_path / "readings.txt"
    await asyncio.to_thread(main, ["simulate", NAME, str(path), "--count", "2", "--interval", "0"])
    assert len(path.read_text().splitlines()) == 2
    simulators, _ = load_simulators()
    async with simulators[NAME].demo(tmp_path / "demo") as section:
        assert section is not None
        [device] = section["devices"]
        assert device["id"] == f"demo-{NAME}"
        assert await asyncio.to_thread(Path(device["path"]).exists)
