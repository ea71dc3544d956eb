"""Which layer imports which, read from the source (ast), for the one-way rule of issue 11:

    core (daemon/) ← families (drivers/) ← simulators ← testing ← tests and bench

A family imports the core and code shared by families (drivers/nir.py), never another family. Every
import counts: at module level, inside functions and under ``if TYPE_CHECKING``. Both spellings of a
name are understood, ``passerelle.daemon.x`` and the old top-level ``daemon.x`` (and ``drivers.``,
``simulators.``), so that a tree from before the namespace change can be measured too.

``python -m tests.unit.layers [ROOT]`` prints the matrix of import statements from each layer to each
other layer and lists the wrong-way ones; tests/unit/test_layers.py fails on any of them.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LAYERS = ("core", "families", "simulators", "testing", "tests", "bench")
FOLDER_LAYERS = {
    "daemon": "core",
    "drivers": "families",
    "simulators": "simulators",
    "testing": "testing",
    "tests": "tests",
    "bench": "bench",
}
NAMESPACE = "passerelle"
NAMESPACED_FOLDERS = ("daemon", "drivers", "simulators", "testing")  # under passerelle. since issue 11
# What each layer may import besides itself. tests and bench are peers: bench never imports tests (what
# both need lives in testing); a test of a benchmark's helper may import bench.
MAY_IMPORT = {
    "core": set[str](),
    "families": {"core"},
    "simulators": {"core", "families"},
    "testing": {"core", "families", "simulators"},
    "tests": {"core", "families", "simulators", "testing", "bench"},
    "bench": {"core", "families", "simulators", "testing"},
}


@dataclass(frozen=True, slots=True)
class Place:
    """Where code sits: its layer and, in families, the family (None for code shared by families)."""

    layer: str
    family: str | None = None

    def __str__(self) -> str:
        if self.layer != "families":
            return self.layer
        return f"family {self.family}" if self.family else "families-shared"


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement's reach into one place of the tree (a statement reaching two places counts
    once for each)."""

    file: str  # relative to the root
    line: int
    module: str
    source: Place
    target: Place
    old_name: bool  # spelled ``daemon.x`` instead of ``passerelle.daemon.x``

    @property
    def cross_layer(self) -> bool:
        return self.source.layer != self.target.layer

    def wrong_way(self) -> str | None:
        """Why this import goes against the direction of the layers, or None when it does not."""
        if self.cross_layer and self.target.layer not in MAY_IMPORT[self.source.layer]:
            return f"{self.source.layer} must not import {self.target.layer}"
        other_family = self.target.family is not None and self.target.family != self.source.family
        if self.source.layer == "families" and other_family:
            return f"{self.source} must not import {self.target}"
        return None

    def problems(self) -> list[str]:
        """Everything wrong with this import: its direction, its spelling."""
        found = [reason] if (reason := self.wrong_way()) else []
        if self.old_name:
            found.append(f"old top-level name: import it as {NAMESPACE}.{self.module}")
        return found

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.module} ({self.source} -> {self.target})"


class Tree:
    """The repository's Python modules under the layers' folders, at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self) -> Iterator[Path]:
        for folder in FOLDER_LAYERS:
            for path in sorted((self.root / folder).rglob("*.py")):
                if "__pycache__" not in path.parts:
                    yield path

    def imports(self) -> Iterator[Import]:
        for path in self.files():
            relative = path.relative_to(self.root)
            source = self._place(relative.parts)
            tree = ast.parse(path.read_bytes(), filename=str(relative))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                for module, old_name in self._imported_modules(node, relative):
                    target = self.place_of(module)
                    if target is not None:
                        yield Import(str(relative), node.lineno, module, source, target, old_name)

    def place_of(self, module: str) -> Place | None:
        """The place a module name points into, or None outside the layers (stdlib, third party)."""
        parts = module.split(".")
        if parts[0] == NAMESPACE and len(parts) > 1 and parts[1] in NAMESPACED_FOLDERS:
            parts = parts[1:]
        elif parts[0] not in FOLDER_LAYERS:
            return None
        return self._place(parts)

    def _place(self, parts: tuple[str, ...] | list[str]) -> Place:
        layer = FOLDER_LAYERS[parts[0]]
        if layer == "families" and len(parts) > 1:
            family = parts[1].removesuffix(".py")
            if (self.root / "drivers" / family).is_dir():  # a family's package, not shared code
                return Place(layer, family)
        return Place(layer)

    def _imported_modules(
        self, node: ast.Import | ast.ImportFrom, relative: Path
    ) -> Iterator[tuple[str, bool]]:
        """(absolute module name, spelled with an old top-level name) for each place ``node`` reaches."""
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, _old_name(alias.name)
        else:
            if node.level:
                package = _package_of(relative)
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, *([node.module] if node.module else [])])
                old = False
            else:
                base, old = node.module or "", _old_name(node.module or "")
            # ``from passerelle.drivers import card`` reaches the card family, not shared code.
            seen: set[Place | None] = set()
            for alias in node.names:
                module = f"{base}.{alias.name}" if self._is_module(f"{base}.{alias.name}") else base
                place = self.place_of(module)
                if place not in seen:
                    seen.add(place)
                    yield module, old

    def _is_module(self, module: str) -> bool:
        parts = module.split(".")
        if parts[0] == NAMESPACE:
            parts = parts[1:]
        if not parts or parts[0] not in FOLDER_LAYERS:
            return False
        path = self.root.joinpath(*parts)
        return path.is_dir() or path.with_suffix(".py").is_file()


def _old_name(module: str) -> bool:
    return module.split(".")[0] in NAMESPACED_FOLDERS


def _package_of(relative: Path) -> list[str]:
    """The package a file belongs to, spelled with the namespace where the folder has one."""
    parts = list(relative.with_suffix("").parts)[:-1]
    return [NAMESPACE, *parts] if parts[0] in NAMESPACED_FOLDERS else parts


def report(root: Path) -> str:
    imports = list(Tree(root).imports())
    matrix = Counter((i.source.layer, i.target.layer) for i in imports)
    width = max(len(layer) for layer in LAYERS) + 2
    lines = [f"imports by layer in {root} (rows import columns; one count per import statement)", ""]
    lines.append("from \\ to".ljust(width) + "".join(layer.rjust(width) for layer in LAYERS))
    for source in LAYERS:
        lines.append(source.ljust(width) + "".join(str(matrix[source, t]).rjust(width) for t in LAYERS))
    cross = [i for i in imports if i.cross_layer]
    wrong = [i for i in imports if i.wrong_way() is not None]
    old = [i for i in imports if i.old_name]
    lines += ["", f"cross-layer: {len(cross)}; wrong-way: {len(wrong)}; by an old top-level name: {len(old)}"]
    by_direction = Counter(f"{i.source} -> {i.target}" for i in wrong)
    for direction, count in sorted(by_direction.items()):
        lines.append(f"  {direction}: {count}")
    lines += [f"    {i}" for i in wrong]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parents[2]
    print(report(root))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
