"""GS1 element strings (GS-separated) and their bracketed human-readable form (HRI), split and checked
against the GS1 Barcode Syntax Dictionary.

Both forms end in the same list of (AI, value) elements and go through the same checks, so a
month 13 is caught whether it was scanned or typed in brackets. Splitting is one pass over the
input: every search for a separator is bounded by the field's maximum length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from passerelle.drivers.scanner.gs1_dictionary import AIDefinition, ai_table, find_ai, matches
from passerelle.drivers.scanner.gs1_linters import LINTERS, charset_ok
from passerelle.drivers.scanner.payload import Problem

GS = "\x1d"
# "(01)" then the value; "\(" is a literal parenthesis inside a value (GS1 HRI escaping).
# Keys whose optional serial component GS1 requires when the message carries a digital signature (8030).
_SERIALISABLE_KEYS = frozenset({"253", "255", "8003"})
_HRI_ELEMENT = re.compile(r"\(([^()]{0,5})\)((?:\\\(|[^(])*)")


@dataclass(frozen=True)
class Element:
    ai: str
    value: str
    definition: AIDefinition
    # A field that needs a separator filled its maximum length and the data went on without one.
    overflowed: bool = False


@dataclass
class ParsedMessage:
    elements: list[Element] = field(default_factory=list)
    problems: set[Problem] = field(default_factory=set)
    saw_separator: bool = False  # the sender transmits GS at all


def split_element_string(data: str) -> ParsedMessage:
    """Split a raw element string (FNC1 transmitted as GS). Stops at the first unknown AI."""
    out = ParsedMessage(saw_separator=GS in data)
    pos, size = 0, len(data)
    while pos < size:
        if data[pos] == GS:
            pos += 1
            continue
        definition = find_ai(data, pos)
        if definition is None:
            out.problems.add(Problem.UNKNOWN_AI)
            break
        start = pos + len(definition.ai)
        limit = min(start + definition.max_length, size)
        separator = data.find(GS, start, limit)
        end = limit if separator < 0 else separator
        value = data[start:end]
        overflowed = definition.separator_required and separator < 0 and end < size and data[end] != GS
        if definition.predefined_length and len(value) < definition.max_length and end == size:
            out.problems.add(Problem.TRUNCATED)
        elif overflowed:
            out.problems.add(Problem.INVALID_LENGTH)
        out.elements.append(Element(definition.ai, value, definition, overflowed))
        pos = end
    return out


def split_hri(data: str) -> ParsedMessage:
    """Split "(01)…(17)…(10)…". Anything that is not a run of (AI)value pairs is invalid_format."""
    out = ParsedMessage(saw_separator=True)  # HRI has explicit boundaries: nothing can be lost
    pos = 0
    table = ai_table()
    for match in _HRI_ELEMENT.finditer(data):
        if match.start() != pos:
            break
        ai, value = match.group(1), match.group(2).replace("\\(", "(")
        pos = match.end()
        definition = table.get(ai)
        if definition is None:
            out.problems.add(
                Problem.UNKNOWN_AI if ai.isdigit() and 2 <= len(ai) <= 4 else Problem.INVALID_FORMAT
            )
            return out
        out.elements.append(Element(ai, value, definition))
    if pos != len(data) or not out.elements:
        out.problems.add(Problem.INVALID_FORMAT)
    return out


def value_problems(definition: AIDefinition, value: str, today: date) -> set[Problem]:
    """Length, character set and component rules of one AI's value."""
    problems: set[Problem] = set()
    if not definition.min_length <= len(value) <= definition.max_length:
        problems.add(Problem.INVALID_LENGTH)
    pos = 0
    for component in definition.components:
        if pos >= len(value) and component.optional:
            break
        part = value[pos : pos + component.max_length]
        pos += len(part)
        if len(part) < component.min_length:
            problems.add(Problem.INVALID_LENGTH)
            break
        if not charset_ok(component.charset, part):
            problems.add(Problem.INVALID_CHARACTER)
            continue
        for name in component.linters:
            linter = LINTERS.get(name)
            found = linter(part, today) if linter else None
            if found is not None:
                problems.add(found)
    return problems


def _requisite_met(alternatives: tuple[tuple[str, ...], ...], present: set[str]) -> bool:
    return any(all(any(matches(ai, p) for ai in present) for p in group) for group in alternatives)


def message_problems(elements: list[Element]) -> set[Problem]:
    """Rules across fields: one value per AI, and the AI pairs GS1 requires or excludes."""
    problems: set[Problem] = set()
    seen: dict[str, str] = {}
    for element in elements:
        if seen.setdefault(element.ai, element.value) != element.value:
            problems.add(Problem.REPEATED_AI_CONFLICT)
    present = set(seen)
    for ai in present:
        definition = ai_table()[ai]
        if not all(_requisite_met(req, present) for req in definition.requires):
            problems.add(Problem.REQUIRED_AI_MISSING)
        if any(matches(other, p) for p in definition.excludes for other in present - {ai}):
            problems.add(Problem.EXCLUDED_AI_PAIR)
    if "8030" in present and any(
        len(seen[key]) <= ai_table()[key].min_length for key in _SERIALISABLE_KEYS & present
    ):
        problems.add(Problem.REQUIRED_AI_MISSING)  # a digital signature needs the key's serial part
    return problems


def check_message(parsed: ParsedMessage, today: date) -> set[Problem]:
    problems = set(parsed.problems)
    for element in parsed.elements:
        problems |= value_problems(element.definition, element.value, today)
    return problems | message_problems(parsed.elements)
