"""Imports point one way: core ← families ← simulators ← testing ← tests and bench (issue 11).

Read from the source (tests/unit/layers.py), every import counts: module level, in functions, under
TYPE_CHECKING. A family imports no other family (code they share sits in drivers/, like nir.py), and
every module is imported by its ``passerelle.`` name."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.unit.layers import Tree, report

REPO = Path(__file__).resolve().parents[2]


def test_imports_point_one_way() -> None:
    tree = Tree(REPO)
    assert sum(1 for _ in tree.files()) > 250  # the scan did find the repository's modules
    problems = [f"{found}: {'; '.join(found.problems())}" for found in tree.imports() if found.problems()]
    assert not problems, (
        "imports against core ← families ← simulators ← testing ← tests/bench:\n" + "\n".join(problems)
    )


def write(root: Path, files: dict[str, str]) -> Tree:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return Tree(root)


def test_the_checker_finds_every_kind_of_wrong_import(tmp_path: Path) -> None:
    tree = write(
        tmp_path,
        {
            "daemon/__init__.py": "",
            "daemon/cli.py": """
                from passerelle.daemon import family

                def main():
                    from passerelle.drivers.card import FAMILY
            """,
            "daemon/family.py": "import argparse\n",
            "drivers/__init__.py": "",
            "drivers/nir.py": "from passerelle.daemon.family import Family\n",
            "drivers/card/__init__.py": """
                from typing import TYPE_CHECKING
                from passerelle.drivers.nir import check
                from passerelle.drivers import nir, scanner
                from . import cli

                if TYPE_CHECKING:
                    from passerelle.simulators.card.virtual import Card
            """,
            "drivers/card/cli.py": "from ..scanner.decode import decode\n",
            "drivers/scanner/__init__.py": "",
            "simulators/card/hooks.py": "from passerelle.testing.support import x\nimport drivers.card\n",
            "testing/support.py": "from tests.card.conftest import slots\n",
            "tests/card/conftest.py": "from passerelle.testing import x\nfrom bench.wrapping import w\n",
            "bench/wrapping.py": "from tests.card.conftest import slots\n",
        },
    )
    found = sorted(f"{i.file}:{i.line} {'; '.join(i.problems())}" for i in tree.imports() if i.problems())
    assert found == [
        "bench/wrapping.py:1 bench must not import tests",
        "daemon/cli.py:5 core must not import families",
        "drivers/card/__init__.py:4 family card must not import family scanner",
        "drivers/card/__init__.py:8 families must not import simulators",
        "drivers/card/cli.py:1 family card must not import family scanner",
        "simulators/card/hooks.py:1 simulators must not import testing",
        "simulators/card/hooks.py:2 old top-level name: import it as passerelle.drivers.card",
        "testing/support.py:1 testing must not import tests",
    ]


def test_the_report_counts_statements_between_layers_in_old_and_new_spellings(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "daemon/app.py": "import json\n",
            "drivers/card/cli.py": "from simulators.card import cards\nfrom daemon.app import run\n",
            "bench/latency.py": "from tests.support import broker\nfrom passerelle.daemon.app import run\n",
            "tests/support.py": "",
        },
    )
    text = report(tmp_path)
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[3:9]}
    assert rows["families"] == ["1", "0", "1", "0", "0", "0"]
    assert rows["bench"] == ["1", "0", "0", "0", "1", "0"]
    assert "cross-layer: 4; wrong-way: 2; by an old top-level name: 2" in text
    assert "drivers/card/cli.py:1: simulators.card (family card -> simulators)" in text
