"""The kit's fixture family, installed for these tests through a real entry point.

tests/kit/entry_point/ holds a ``*.dist-info`` directory whose entry_points.txt registers
``thermometer = tests.kit.thermometer:FAMILY`` in the ``passerelle.families`` group: putting that folder
on ``sys.path`` is all ``importlib.metadata`` needs to find it, as it would for an installed wheel.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from passerelle.daemon.entry_points import forget_loaded_plugins
from tests.card.conftest import slots  # noqa: F401 - the card scenario's (pcscd: tests/conftest.py)

ENTRY_POINT_DIR = Path(__file__).parent / "entry_point"


@pytest.fixture(scope="module", autouse=True)
def thermometer_installed() -> Iterator[None]:
    sys.path.insert(0, str(ENTRY_POINT_DIR))
    importlib.invalidate_caches()
    forget_loaded_plugins()
    try:
        yield
    finally:
        sys.path.remove(str(ENTRY_POINT_DIR))
        importlib.invalidate_caches()
        forget_loaded_plugins()
