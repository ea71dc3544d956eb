"""Suspecting a lost GS separator, on evidence only.

A keyboard wedge set up without control-character output drops every GS: the lot then swallows
the serial that followed it and the message still splits without error. A correctly separated
code must never be suspected, so the check runs only on messages that carry no GS at all, and it
needs one of two pieces of evidence:

- a field that needs a separator ran to its maximum length and data went on (nothing but a lost
  separator or a corrupt value explains that), or
- the last field, when free text, holds a complete, valid medicine/UDI field after its first
  character (a lot ending "…21<serial>"), and that split is not pure chance: an embedded free
  text field is at least MIN_EMBEDDED_TEXT long, and an all-digit value is only split as lot
  then serial (an all-digit serial holding "10…" is far more often just a serial).

Cost is bounded: the last value is at most 90 characters and each candidate is checked on its
own tail only.
"""

from __future__ import annotations

from datetime import date

from passerelle.drivers.scanner.gs1_dictionary import find_ai
from passerelle.drivers.scanner.gs1_syntax import ParsedMessage, check_message, split_element_string
from passerelle.drivers.scanner.payload import Problem

# Free-text fields whose end a lost GS makes invisible.
_SWALLOWERS = frozenset({"10", "21", "22", "235", "240", "241", "250", "251"})
# Fields that follow a lot or serial on medicines and medical devices.
_FOLLOWERS = frozenset(
    {"01", "10", "11", "15", "16", "17", "21", "240", "7003", "711", "712", "713", "714", "715"}
)
_FREE_TEXT_FOLLOWERS = frozenset({"10", "21", "240", "711", "712", "713", "714", "715"})
# Shortest embedded free-text field taken as evidence: shorter tails turn up by chance in ordinary
# lots (measured in tests/unit/drivers/scanner/test_lost_separator.py).
MIN_EMBEDDED_TEXT = 6
# A tail is judged on its own content; it cannot carry the AIs it pairs with.
_PAIRING_ONLY = frozenset({Problem.REQUIRED_AI_MISSING, Problem.EXCLUDED_AI_PAIR})


def _embedded_field(own_ai: str, value: str, present: set[str], today: date) -> bool:
    for start in range(1, len(value) - 2):
        definition = find_ai(value, start)
        if definition is None or definition.ai not in _FOLLOWERS or definition.ai in present:
            continue
        if definition.ai in _FREE_TEXT_FOLLOWERS:
            if len(value) - start - len(definition.ai) < MIN_EMBEDDED_TEXT:
                continue
            # Digits give no boundary to see, except for the pair GS stripping produces on every
            # serialised medicine pack: a serial (21) run into the lot (10) before it.
            if value.isdigit() and (own_ai, definition.ai) != ("10", "21"):
                continue
        tail = split_element_string(value[start:])
        if tail.elements and not check_message(tail, today) - _PAIRING_ONLY:
            return True
    return False


def lost_separator_suspected(parsed: ParsedMessage, today: date) -> bool:
    if parsed.saw_separator or not parsed.elements:
        return False
    if any(element.overflowed for element in parsed.elements):
        return True
    last = parsed.elements[-1]
    if last.ai not in _SWALLOWERS:
        return False
    present = {element.ai for element in parsed.elements}
    return _embedded_field(last.ai, last.value, present, today)
