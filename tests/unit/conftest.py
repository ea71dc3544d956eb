"""The unit tier: no broker, no pcscd, no child process, no network; the whole tier runs in seconds.

Every test under tests/unit/ runs with the network and child processes switched off, so a test that
quietly starts a real component fails here instead of slowing the tier down: such a test belongs to the
system tier (any other folder of tests/, marked ``system`` by tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
from collections.abc import Iterator
from typing import Any, NoReturn
from unittest import mock

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


@contextlib.contextmanager
def _no_real_components() -> Iterator[None]:
    with (
        mock.patch.object(socket.socket, "connect", _connect),
        mock.patch.object(subprocess.Popen, "__init__", _refuse("a child process")),
        mock.patch.object(asyncio, "create_subprocess_exec", _refuse("a child process")),
        mock.patch.object(asyncio, "create_subprocess_shell", _refuse("a child process")),
    ):
        yield


# Hook wrappers rather than an autouse fixture: fixtures of every scope (module and session ones too)
# are set up inside these phases, so none of them can start a broker behind the guard's back.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _no_real_components():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _no_real_components():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    with _no_real_components():
        return (yield)
