"""docs/adding-a-family.md shows the fixture family's real code: every Python block of the walkthrough
is found, line for line, in tests/kit/thermometer/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
WALKTHROUGH = (REPO / "docs" / "adding-a-family.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", WALKTHROUGH, flags=re.S)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_each_code_block_is_the_fixture_code(block: str) -> None:
    wanted = _lines(block)
    for source in (REPO / "tests" / "kit" / "thermometer").glob("*.py"):
        have = _lines(source.read_text())
        if any(have[i : i + len(wanted)] == wanted for i in range(len(have))):
            return
    raise AssertionError(f"not in tests/kit/thermometer/: {wanted[0]}")


def test_the_walkthrough_has_code_blocks() -> None:
    assert len(BLOCKS) >= 3
