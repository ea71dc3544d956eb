"""The unit tier: no broker, no pcscd, no child process, no network; the whole tier runs in seconds.

Every test under tests/unit/ runs with the network and child processes switched off, so a test that
quietly starts a real component fails here instead of slowing the tier down: such a test belongs to the
system tier (any other folder of tests/, marked ``system`` by tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
from typing import Any, NoReturn

import pytest


class RealComponentInUnitTierError(AssertionError):
    """Raised when a unit test reaches for the network or a child process."""


def _refuse(what: str) -> Any:
    def refuse(*_args: object, **_kwargs: object) -> NoReturn:
        raise RealComponentInUnitTierError(f"{what} in the unit tier: move this test to the system tier")

    return refuse


_original_connect = socket.socket.connect


def _connect(self: socket.socket, address: Any) -> None:
    # asyncio's own self-pipe is a socketpair (AF_UNIX, never connect()); only real endpoints are refused.
    if self.family in (socket.AF_INET, socket.AF_INET6):
        raise RealComponentInUnitTierError(f"network connection to {address!r} in the unit tier")
    _original_connect(self, address)


@pytest.fixture(autouse=True)
def _no_real_components(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _connect)
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("a child process"))
    monkeypatch.setattr(asyncio, "create_subprocess_exec", _refuse("a child process"))
    monkeypatch.setattr(asyncio, "create_subprocess_shell", _refuse("a child process"))
