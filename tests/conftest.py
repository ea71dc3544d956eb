"""Fixtures every family's tests share: a private Mosquitto on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from passerelle.daemon.broker import PrivateBroker
from passerelle.testing.support import RUNNING


@pytest.fixture(autouse=True)
def _no_daemon_left_behind() -> Iterator[None]:
    """A test that fails half-way must not leave a daemon process running."""
    yield
    while RUNNING:
        RUNNING.pop().kill_if_running()


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
