"""HIBC (Health Industry Bar Code, ANSI/HIBC 2.x) primary, secondary and concatenated data.

Layouts handled (``C`` = Mod 43 check character, ``L`` = link character):
- primary           ``+ LIC(4) PCN(1-18) U C``
- concatenated      ``+ LIC PCN U / secondary C``
- secondary alone   ``+ secondary L C``
Secondary data: ``$$`` + optional quantity (``8``QQ or ``9``QQQQQ) + date flag (none=MMYY, 2 MMDDYY,
3 YYMMDD, 4 YYMMDDHH, 5 YYJJJ, 6 YYJJJHH, 7 no date) + lot; ``$$+`` the same with a serial; ``$`` lot
only; ``$+`` serial only; legacy YYJJJ + lot. Supplemental ``/S`` serial, ``/16D`` manufacture date
and ``/14D`` expiry (YYYYMMDD), ``/Q`` quantity follow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from passerelle.drivers.scanner.checks import HIBC_ALPHABET, hibc_check_character
from passerelle.drivers.scanner.dates import ascii_digits, gs1_year, month_day, yyjjj, yymmdd
from passerelle.drivers.scanner.payload import HibcData, Problem

_PRIMARY = re.compile(r"([A-Z][A-Z0-9]{3})([A-Z0-9]{1,18})([0-9])")


@dataclass
class HibcDecoded:
    data: HibcData
    problems: list[Problem] = field(default_factory=list)


_ALLOWED = frozenset(HIBC_ALPHABET)


def looks_like_hibc(text: str) -> bool:
    body = text.strip("*")
    return len(body) >= 4 and body.startswith("+") and all(ch in _ALLOWED for ch in body)


def _date_field(flag: str, text: str, today: date) -> tuple[date | None, str, bool]:
    """(date, rest, ok) for the date part of a ``$$`` secondary with the given flag."""
    if flag == "7":
        return None, text, True
    sizes = {"": 4, "2": 6, "3": 6, "4": 8, "5": 5, "6": 7}
    size = sizes[flag]
    part, rest = text[:size], text[size:]
    if len(part) < size or not ascii_digits(part):
        return None, rest, False
    when: date | None
    if flag == "":
        when = month_day(gs1_year(int(part[2:4]), today), int(part[0:2]), 0)
    elif flag == "2":
        when = month_day(gs1_year(int(part[4:6]), today), int(part[0:2]), int(part[2:4]))
    elif flag in ("3", "4"):
        when = yymmdd(part, today)
        if when is not None and flag == "4" and int(part[6:8]) > 23:
            when = None
    else:
        when = yyjjj(part, today)
        if when is not None and flag == "6" and int(part[5:7]) > 23:
            when = None
    return when, rest, when is not None


def _yyyymmdd(text: str) -> date | None:
    if len(text) != 8 or not ascii_digits(text):
        return None
    return month_day(int(text[:4]), int(text[4:6]), int(text[6:8]))


def _dollar_field(head: str, out: HibcData, problems: set[Problem], today: date) -> None:
    """A ``$$`` / ``$$+`` / ``$`` / ``$+`` field (the part after the ``$`` signs is in ``head``)."""
    if head.startswith("$$"):
        rest = head[2:]
        serial_form = rest.startswith("+")
        if serial_form:
            rest = rest[1:]
        lenient = False
        if rest[:1] == "8" and ascii_digits(rest[1:3]):
            out.quantity, rest, lenient = int(rest[1:3]), rest[3:], True
        elif rest[:1] == "9" and ascii_digits(rest[1:6]):
            out.quantity, rest, lenient = int(rest[1:6]), rest[6:], True
        flag = rest[:1] if rest[:1] in {"2", "3", "4", "5", "6", "7"} else ""
        when, after, ok = _date_field(flag, rest[len(flag) :], today)
        if ok:
            rest = after
            if when is not None:
                out.expiry = when
        elif not lenient:  # after a quantity the date may be absent (expiry then comes in /14D)
            problems.add(Problem.INVALID_DATE)
            rest = after
        if serial_form:
            out.serial = rest or None
        else:
            out.lot = rest or None
    elif head.startswith("$+"):
        out.serial = head[2:] or None
    else:
        out.lot = head[1:] or None


def _secondary(text: str, out: HibcData, problems: set[Problem], today: date) -> None:
    head, *supplements = text.split("/")
    if head.startswith("$"):
        _dollar_field(head, out, problems, today)
    elif ascii_digits(head[:5]):  # legacy: YYJJJ then lot
        out.expiry = yyjjj(head, today)
        if out.expiry is None:
            problems.add(Problem.INVALID_DATE)
        out.lot = head[5:] or None
    elif head:
        problems.add(Problem.INVALID_FORMAT)
    for sup in supplements:
        if sup.startswith("16D"):
            out.production_date = _yyyymmdd(sup[3:])
            if out.production_date is None:
                problems.add(Problem.INVALID_DATE)
        elif sup.startswith("14D"):
            out.expiry = _yyyymmdd(sup[3:])
            if out.expiry is None:
                problems.add(Problem.INVALID_DATE)
        elif sup.startswith("S"):
            out.serial = sup[1:] or None
        elif sup.startswith("Q") and ascii_digits(sup[1:]):
            out.quantity = int(sup[1:])
        elif sup.startswith("$"):
            _dollar_field(sup, out, problems, today)
        elif sup:
            problems.add(Problem.INVALID_FORMAT)


def _split_two_lines(body: str) -> int | None:
    """Index where a secondary line (``+…``) starts after a complete primary with its own check
    character — the form a scanner sends when it reads the two Code 39/128 lines in one go."""
    for p in range(7, len(body)):
        if body[p] != "+":
            continue
        primary, check = body[: p - 1], body[p - 1]
        if _PRIMARY.fullmatch(primary[1:]) and hibc_check_character(primary) == check:
            return p
    return None


def decode_hibc(text: str, today: date) -> HibcDecoded:
    body = text.strip("*")  # Code 39 start/stop characters sometimes survive in HRI
    if len(body) < 3 or not body.startswith("+"):
        return HibcDecoded(HibcData(), [Problem.INVALID_FORMAT])
    split = _split_two_lines(body) if body[1:2].isalpha() else None
    if split is not None:
        first, problems_first = _decode_one(body[:split], today)
        second, problems_second = _decode_one(body[split:], today)
        merged = first.model_copy(update=second.model_dump(exclude_none=True, exclude={"link"}))
        merged.link = second.link
        problems = set(problems_first) | set(problems_second)
        if second.link is not None and second.link != body[split - 1]:
            problems.add(Problem.CHECK_DIGIT_INVALID)  # the secondary belongs to another primary
        return HibcDecoded(merged, sorted(problems))
    data, problems_one = _decode_one(body, today)
    return HibcDecoded(data, sorted(problems_one))


def _decode_one(body: str, today: date) -> tuple[HibcData, set[Problem]]:
    problems: set[Problem] = set()
    out = HibcData()
    expected = hibc_check_character(body[:-1])
    if expected is None:
        problems.add(Problem.INVALID_FORMAT)
    elif expected != body[-1]:
        problems.add(Problem.CHECK_DIGIT_INVALID)
    content = body[1:-1]
    if content[:1].isalpha():  # primary, maybe concatenated with a secondary
        primary, _, secondary = content.partition("/")
        match = _PRIMARY.fullmatch(primary)
        if match is None:
            problems.add(Problem.INVALID_FORMAT)
        else:
            out.lic, out.pcn, out.unit = match.group(1), match.group(2), int(match.group(3))
        if secondary:
            _secondary(secondary, out, problems, today)
    elif len(content) < 2:
        problems.add(Problem.TRUNCATED)
    else:  # secondary alone: its last character links to the primary's check character
        out.link = content[-1]
        _secondary(content[:-1], out, problems, today)
    return out, problems
