"""The GS1 Application Identifier table, read at import from the vendored GS1 Barcode Syntax Dictionary.

The dictionary (data/gs1-syntax-dictionary.txt, Apache-2.0, maintained by GS1 AISBL) is the
authoritative machine-readable form of the AI rules: lengths, character sets, component linters
(check digits, dates…), whether a separator is needed, and which AIs require or exclude others.
Reading it instead of typing a table keeps us in step with GS1 by replacing one data file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources

# One requisite alternative: AIs (or patterns such as "31nn") that must all be present.
Requisite = tuple[str, ...]


@dataclass(frozen=True)
class Component:
    charset: str  # "N" digits, "X" CSET 82, "Y" CSET 39, "Z" base64url
    min_length: int
    max_length: int
    optional: bool
    linters: tuple[str, ...]


@dataclass(frozen=True)
class AIDefinition:
    ai: str
    title: str
    predefined_length: bool  # "*" flag: no separator needed after it
    digital_link_attribute: bool  # "?" flag
    components: tuple[Component, ...]
    # Each inner tuple is one "req=" attribute: at least one of its alternatives must be satisfied.
    requires: tuple[tuple[Requisite, ...], ...]
    excludes: tuple[str, ...]
    primary_key: bool  # "dlpkey": may start a GS1 Digital Link path
    # The qualifier AIs allowed after it in a digital link path, in order; one tuple per alternative.
    qualifiers: tuple[tuple[str, ...], ...] = ()

    # Cached: the splitter asks for these at every field of every scan.
    @cached_property
    def min_length(self) -> int:
        return sum(c.min_length for c in self.components if not c.optional)

    @cached_property
    def max_length(self) -> int:
        return sum(c.max_length for c in self.components)

    @property
    def separator_required(self) -> bool:
        return not self.predefined_length


_COMPONENT = re.compile(r"^(\[)?([NXYZ])(\d+)?(?:\.\.(\d+))?(\])?((?:,\w+)*)$")
_FLAGS = set("*!?\"$%&'()+,-./:;<=>@[\\]^_`{|}~")


def _component(spec: str) -> Component:
    # Optional components are written "[N6],yymmdd": the bracket closes before the linters.
    match = _COMPONENT.match(spec)
    if match is None:
        raise ValueError(f"unreadable component {spec!r} in the GS1 syntax dictionary")
    optional, charset, low, high, _, linters = match.groups()
    if high is not None:  # "N..20": 1 to 20; "N3..20" does not occur but would mean 3 to 20
        min_length, max_length = int(low or 1), int(high)
    else:
        min_length = max_length = int(low)
    names = tuple(name for name in linters.split(",") if name)
    return Component(charset, min_length, max_length, optional is not None, names)


def _ai_range(text: str) -> list[str]:
    if "-" not in text:
        return [text]
    first, last = text.split("-")
    return [str(n).zfill(len(first)) for n in range(int(first), int(last) + 1)]


def _parse_line(line: str) -> list[AIDefinition]:
    body, _, title = line.partition("#")
    tokens = body.split()
    ais = _ai_range(tokens.pop(0))
    flags = tokens.pop(0) if tokens and set(tokens[0]) <= _FLAGS else ""
    components: list[Component] = []
    requires: list[tuple[Requisite, ...]] = []
    excludes: list[str] = []
    primary_key = False
    qualifiers: tuple[tuple[str, ...], ...] = ()
    for token in tokens:
        key, _, value = token.partition("=")
        if key == "req":
            requires.append(tuple(tuple(alt.split("+")) for alt in value.split(",")))
        elif key == "ex":
            excludes.extend(value.split(","))
        elif key == "dlpkey":
            primary_key = True
            qualifiers = tuple(tuple(alt.split(",")) if alt else () for alt in value.split("|"))
        elif token[0] in "NXYZ[":
            components.append(_component(token))
    return [
        AIDefinition(
            ai=ai,
            title=title.strip(),
            predefined_length="*" in flags,
            digital_link_attribute="?" in flags,
            components=tuple(components),
            requires=tuple(requires),
            excludes=tuple(excludes),
            primary_key=primary_key,
            qualifiers=qualifiers,
        )
        for ai in ais
    ]


@cache
def ai_table() -> dict[str, AIDefinition]:
    text = (
        resources.files("passerelle.drivers.scanner")
        .joinpath("data/gs1-syntax-dictionary.txt")
        .read_text("utf-8")
    )
    table: dict[str, AIDefinition] = {}
    for line in text.splitlines():
        if line[:1].isdigit():
            for definition in _parse_line(line):
                table[definition.ai] = definition
    return table


def find_ai(text: str, start: int = 0) -> AIDefinition | None:
    """The AI that begins at ``text[start]``. GS1 AIs are prefix-free, so the first length that
    names a known AI is the only possible one."""
    table = ai_table()
    for length in (2, 3, 4):
        definition = table.get(text[start : start + length])
        if definition is not None:
            return definition
    return None


def matches(ai: str, pattern: str) -> bool:
    """Whether ``ai`` matches a requisite/exclusion pattern: an AI, or digits then "n" wildcards
    ("31nn", "394n": the dictionary only puts wildcards at the end)."""
    if "n" not in pattern:
        return ai == pattern
    return len(ai) == len(pattern) and ai.startswith(pattern.rstrip("n"))
