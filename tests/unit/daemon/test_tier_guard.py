"""The unit tier's guard itself: a test that reaches for a real component fails loudly."""

from __future__ import annotations

import socket
import subprocess

import pytest

from tests.unit.conftest import RealComponentInUnitTierError


def test_a_network_connection_is_refused() -> None:
    with socket.socket() as client, pytest.raises(RealComponentInUnitTierError):
        client.connect(("127.0.0.1", 1883))


def test_a_child_process_is_refused() -> None:
    with pytest.raises(RealComponentInUnitTierError):
        subprocess.run(["true"], check=False)


def test_the_tier_is_not_marked_system(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("system") is None


@pytest.fixture(scope="module")
def module_scoped_child() -> str:
    try:
        subprocess.run(["true"], check=False)
    except RealComponentInUnitTierError as refused:
        return str(refused)
    return "started"


def test_module_scoped_fixtures_are_guarded_too(module_scoped_child: str) -> None:
    assert "child process" in module_scoped_child
