"""Fixtures every family's tests share: a private Mosquitto on a free loopback port; and the two tiers.

tests/unit/ is the unit tier (no real component; its own conftest refuses the network and child
processes); every other test is the system tier and carries the ``system`` marker, so
``pytest -m "not system"`` runs the unit tier alone and ``-m system`` the real-component tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from passerelle.daemon.broker import PrivateBroker
from passerelle.simulators.card.isolated_pcscd import IsolatedPcscd
from passerelle.testing.support import RUNNING

UNIT_TIER = Path(__file__).parent / "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if UNIT_TIER not in item.path.parents:
            item.add_marker(pytest.mark.system)


@pytest.fixture(autouse=True)
def _private_pcscd_first(request: pytest.FixtureRequest) -> None:
    """libpcsclite binds to a pcscd once per process, at its first call. A system test that reaches PC/SC
    in-process before any card test (a `doctor` request, the console's doctor, the card family under a
    daemon) would bind this worker to the system's pcscd, and every card test after it on the same
    worker would then wait for slots it cannot see. So the private pcscd starts before the first system
    test of each worker (once: it is session-scoped); the unit tier never needs it."""
    if request.node.get_closest_marker("system") is not None:
        request.getfixturevalue("pcscd")


@pytest.fixture(autouse=True)
def _no_daemon_left_behind() -> Iterator[None]:
    """A test that fails half-way must not leave a daemon process running."""
    yield
    while RUNNING:
        RUNNING.pop().kill_if_running()


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IsolatedPcscd]:
    """The isolated pcscd + vpcd of simulators/card, one per test process (libpcsclite talks to a
    single pcscd per process): the card tests and the family conformance test (tests/kit/) share it."""
    instance = IsolatedPcscd(tmp_path_factory.mktemp("pcscd"))
    instance.start()
    os.environ.update(instance.client_env)
    yield instance
    instance.stop()


@pytest.fixture
def broker() -> Iterator[PrivateBroker]:
    """A private Mosquitto (no persistence) for one test; never the system broker."""
    with PrivateBroker() as running:
        yield running


@pytest.fixture
def persistent_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateBroker]:
    """A private Mosquitto that keeps sessions and retained messages across ``restart()``."""
    broker = PrivateBroker(persistence=True, workdir=tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    try:
        yield broker
    finally:
        broker.close()
