"""CPAP fixtures: real cards written by the simulator into a temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from passerelle.simulators.cpap.card import WrittenCard, write_card
from passerelle.simulators.cpap.profile import BUILTIN

CardFactory = Callable[..., WrittenCard]


@pytest.fixture
def make_card(tmp_path: Path) -> CardFactory:
    def make(profile: str = "good", name: str | None = None, **changes: Any) -> WrittenCard:
        prof = replace(BUILTIN[profile], **changes)
        return write_card(prof, tmp_path / (name or profile))

    return make
