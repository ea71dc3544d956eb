"""``passerelle scaffold family <name>``: a new family's files, with the same names for every family.

It writes what the walkthrough (docs/adding-a-family.md) names — the family package, a driver on the
shared reconnecting loop, the simulator with its hooks, a unit test — and prints, without editing
them, the lines that go into files shared with other families (pyproject.toml, tests/kit/scenarios.py)
and the generator commands. It writes nothing when it refuses the name.
"""

from __future__ import annotations

import argparse
import keyword
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from string import Template

from pydantic import BaseModel

from passerelle.daemon import scaffold_templates
from passerelle.daemon.family import EventDeclaration, FamilyBase, family_problems, load_families

EX_USAGE = 2  # what argparse returns for a bad command line: a refused name is one


class ScaffoldError(Exception):
    """Why nothing was written."""


@dataclass(frozen=True, slots=True)
class NewFamily:
    name: str  # the family name: config section, entry point, module name
    package: str = "passerelle"  # import root of the generated modules

    @property
    def class_prefix(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def slug(self) -> str:
        """Topic leaves and schema ids take no underscore."""
        return self.name.replace("_", "-")

    def render(self, template: str) -> str:
        return Template(template).substitute(
            name=self.name, Name=self.class_prefix, slug=self.slug, package=self.package
        )

    def files(self) -> dict[str, str]:
        """Relative path -> content."""
        return {self.render(path): self.render(text) for path, text in scaffold_templates.FILES.items()}


class _Candidate(FamilyBase):
    """The family as the scaffold would declare it, for the core's own checks of names."""

    def __init__(self, family: NewFamily) -> None:
        self.name = family.name
        self.events = (EventDeclaration(f"passerelle.{family.slug}.reading/1", BaseModel, family.slug, "-"),)


def problems(family: NewFamily, root: Path) -> list[str]:
    """Why ``family`` cannot be scaffolded under ``root`` (empty when it can)."""
    if not all(part.isidentifier() for part in family.package.split(".")):
        return [f"package {family.package!r} is not a dotted Python name"]
    found = family_problems(_Candidate(family))
    if found:
        return found
    if keyword.iskeyword(family.name):
        return [f"family name {family.name!r} is a Python keyword: it cannot be a module name"]
    for existing in (root / "drivers" / family.name, root / "simulators" / family.name):
        if existing.exists():
            found.append(f"{existing} already exists")
    installed, _ = load_families()
    if family.name in installed:
        found.append(f"a family named {family.name!r} is already installed")
    for other in installed.values():
        if any(event.leaf == family.slug for event in other.events):
            found.append(f"topic leaf {family.slug!r} is already used by family {other.name!r}")
    return found


def check_checkout(root: Path) -> None:
    """``root`` must be a Passerelle checkout: the files go into its required folders."""
    pyproject = root / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text()).get("project", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScaffoldError(f"{root} is not a Passerelle checkout: cannot read {pyproject}: {exc}") from exc
    if project.get("name") != "passerelle":
        raise ScaffoldError(f'{root} is not a Passerelle checkout: {pyproject} has no name = "passerelle"')


def scaffold(family: NewFamily, root: Path, *, dry_run: bool = False) -> list[Path]:
    """Write the family's files under ``root`` (nothing with ``dry_run``); the paths, in order."""
    check_checkout(root)
    if found := problems(family, root):
        raise ScaffoldError("; ".join(found))
    files = {root / path: text for path, text in family.files().items()}
    if clashes := [str(path) for path in files if path.exists()]:
        raise ScaffoldError(f"would overwrite {', '.join(clashes)}")
    if not dry_run:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return list(files)


def next_steps(family: NewFamily) -> str:
    """What is left to do by hand, printed after the files are written."""
    render = family.render
    return "\n".join(
        [
            "Left to do by hand:",
            "",
            "1. Add to pyproject.toml, then run `bash scripts/setup.sh` to install the entry points:",
            "",
            render(scaffold_templates.ENTRY_POINTS),
            "2. Add the conformance scenario to tests/kit/scenarios.py:",
            "",
            render(scaffold_templates.SCENARIO),
            "3. Replace the reading model and parse_reading with what the device sends, then regenerate:",
            "",
            "   passerelle schema --write docs",
            "   passerelle config reference --write docs/configuration.md",
            "",
            render("4. Write docs/$name.md; run .venv/bin/pytest -q tests/unit/drivers/$name tests/kit"),
        ]
    )


def add_arguments(scaffold_parser: argparse.ArgumentParser) -> None:
    kinds = scaffold_parser.add_subparsers(dest="scaffold_command", metavar="KIND", required=True)
    new = kinds.add_parser("family", help="write a new device family's files (docs/adding-a-family.md)")
    new.add_argument("name", help="the family name: a lower-case identifier, e.g. thermometer")
    new.add_argument("--root", type=Path, default=Path(), help="the Passerelle checkout (default: here)")
    new.add_argument("--dry-run", action="store_true", help="list the files, write nothing")
    new.add_argument(
        "--package", default="passerelle", help="import root of the generated modules (tests only)"
    )
    new.set_defaults(handler=cmd_scaffold_family)


def cmd_scaffold_family(args: argparse.Namespace) -> int:
    family = NewFamily(args.name, args.package)
    root: Path = args.root
    try:
        written = scaffold(family, root, dry_run=args.dry_run)
    except ScaffoldError as exc:
        print(f"passerelle scaffold family: {exc} (nothing written)", file=sys.stderr)
        return EX_USAGE
    for path in written:
        print(path)
    if not args.dry_run:
        print(f"\nWrote {len(written)} files for family {family.name!r} under {root}.\n")
        print(next_steps(family))
    return 0
