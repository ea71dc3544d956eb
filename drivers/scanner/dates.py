"""GS1/HIBC date rules: YYMMDD with DD=00 meaning the last day of the month, and the GS1 century rule."""

from __future__ import annotations

import calendar
from datetime import date


def ascii_digits(text: str) -> bool:
    """Only 0-9: ``str.isdigit`` also accepts superscripts (``²``, the key left of 1 on a French
    keyboard) and other scripts' digits, which ``int`` then refuses or misreads."""
    return text.isascii() and text.isdigit()


def gs1_year(yy: int, today: date) -> int:
    """Full year for a two-digit year, GS1 General Specifications rule: within -49/+50 years of
    the current year."""
    current = today.year
    century = current - current % 100
    diff = yy - current % 100
    if 51 <= diff <= 99:
        century -= 100
    elif -99 <= diff <= -50:
        century += 100
    return century + yy


def month_day(year: int, month: int, day: int) -> date | None:
    """A date, with day 0 meaning the last day of the month; None when impossible."""
    if not 1 <= month <= 12:
        return None
    if day == 0:
        day = calendar.monthrange(year, month)[1]
    try:
        return date(year, month, day)
    except ValueError:
        return None


def yymmdd(value: str, today: date) -> date | None:
    if len(value) < 6 or not ascii_digits(value[:6]):
        return None
    yy, mm, dd = int(value[0:2]), int(value[2:4]), int(value[4:6])
    return month_day(gs1_year(yy, today), mm, dd)


def yyjjj(value: str, today: date) -> date | None:
    """Julian date: two-digit year and day of year 001-366."""
    if len(value) < 5 or not ascii_digits(value[:5]):
        return None
    year = gs1_year(int(value[:2]), today)
    day = int(value[2:5])
    if not 1 <= day <= (366 if calendar.isleap(year) else 365):
        return None
    return date.fromordinal(date(year, 1, 1).toordinal() + day - 1)
