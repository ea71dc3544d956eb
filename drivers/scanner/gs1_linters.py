"""Content checks ("linters") named by the GS1 Barcode Syntax Dictionary, each turned into a stable
problem code. Written here from the GS1 General Specifications' definitions.

Left out on purpose (see docs/scanners.md): code lists that need data we do not ship (ISO 3166
countries, ISO 4217 currencies, UN/ECE package types, IBAN country formats), the North American
coupon structures (8110, 8112) and the GS1 Company Prefix lookup behind gcppos1/gcppos2 (only its
"starts with digits" part is checked). Those components are still checked for length and
character set.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from passerelle.drivers.scanner.checks import gs1_check_ok
from passerelle.drivers.scanner.dates import month_day, yymmdd
from passerelle.drivers.scanner.payload import Problem

CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
CSET39 = "#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BASE64URL = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_CHECK_PAIR_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_CHECK_PAIR_WEIGHTS = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83)
_MIN_COMPANY_PREFIX = 4  # the shortest GS1 Company Prefix: a GCP-bearing component starts with 4 digits

Linter = Callable[[str, date], Problem | None]
_CHARSETS = {"N": frozenset("0123456789"), "X": frozenset(CSET82), "Y": frozenset(CSET39)}


def charset_ok(charset: str, value: str) -> bool:
    if charset == "Z":  # base64url; GS1 allows up to two "=" of padding when the length is a multiple of 3
        body = value.rstrip("=")
        padding = len(value) - len(body)
        return set(body) <= set(BASE64URL) and (padding == 0 or (padding <= 2 and len(value) % 3 == 0))
    return set(value) <= _CHARSETS[charset]


def _csum(value: str, _: date) -> Problem | None:
    return None if gs1_check_ok(value) else Problem.CHECK_DIGIT_INVALID


def _csumalpha(value: str, _: date) -> Problem | None:
    """GS1 check character pair (GMN, AI 8013): prime-weighted sum of CSET 82 positions mod 1021."""
    if len(value) < 3 or len(value) > len(_CHECK_PAIR_WEIGHTS) + 2:
        return Problem.CHECK_DIGIT_INVALID
    body, pair = value[:-2], value[-2:]
    weights = _CHECK_PAIR_WEIGHTS[: len(body)][::-1]
    total = sum(CSET82.index(ch) * w for ch, w in zip(body, weights, strict=True)) % 1021
    expected = _CHECK_PAIR_ALPHABET[total // 32] + _CHECK_PAIR_ALPHABET[total % 32]
    return None if pair == expected else Problem.CHECK_DIGIT_INVALID


def _company_prefix(value: str, _: date) -> Problem | None:
    head = value[:_MIN_COMPANY_PREFIX]
    return None if len(head) == _MIN_COMPANY_PREFIX and head.isdigit() else Problem.INVALID_VALUE


def _yymmd0(value: str, today: date) -> Problem | None:
    return None if yymmdd(value, today) is not None else Problem.INVALID_DATE


def _yymmdd(value: str, today: date) -> Problem | None:
    """Like yymmd0 but a day 00 ("end of month") is not allowed."""
    if value[4:6] == "00":
        return Problem.INVALID_DATE
    return _yymmd0(value, today)


def _yyyymmdd(value: str, _: date) -> Problem | None:
    year, month, day = int(value[:4]), int(value[4:6]), int(value[6:8])
    return None if day and month_day(year, month, day) is not None else Problem.INVALID_DATE


def _below(limit: int) -> Linter:
    def check(value: str, _: date) -> Problem | None:
        return None if int(value) < limit else Problem.INVALID_DATE

    return check


def _hhmi(value: str, _: date) -> Problem | None:
    return None if int(value[:2]) < 24 and int(value[2:4]) < 60 else Problem.INVALID_DATE


def _one_of(allowed: str) -> Linter:
    def check(value: str, _: date) -> Problem | None:
        return None if value in allowed else Problem.INVALID_VALUE

    return check


def _nonzero(value: str, _: date) -> Problem | None:
    return None if int(value) else Problem.INVALID_VALUE


def _no_zero_prefix(value: str, _: date) -> Problem | None:
    return None if value == "0" or not value.startswith("0") else Problem.INVALID_VALUE


def _has_non_digit(value: str, _: date) -> Problem | None:
    return None if not value.isdigit() else Problem.INVALID_VALUE


def _piece_of_total(value: str, _: date) -> Problem | None:
    piece, total = int(value[: len(value) // 2]), int(value[len(value) // 2 :])
    return None if 0 < piece <= total else Problem.INVALID_VALUE


def _percent_encoded(value: str, _: date) -> Problem | None:
    hexdigits = set("0123456789ABCDEFabcdef")
    at = value.find("%")
    while at >= 0:
        if len(value) < at + 3 or not set(value[at + 1 : at + 3]) <= hexdigits:
            return Problem.INVALID_VALUE
        at = value.find("%", at + 3)
    return None


def _degrees(limit: int) -> Linter:
    """Latitude/longitude in ten-millionths of a degree, offset by ``limit`` degrees."""

    def check(value: str, _: date) -> Problem | None:
        return None if int(value) <= 2 * limit * 10_000_000 else Problem.INVALID_VALUE

    return check


def _position_in_sequence(value: str, _: date) -> Problem | None:
    position, slash, end = value.partition("/")
    if not (slash and position.isdigit() and end.isdigit()):
        return Problem.INVALID_VALUE
    if position.startswith("0") or end.startswith("0") or int(position) > int(end):
        return Problem.INVALID_VALUE
    return None


def _media_type(value: str, _: date) -> Problem | None:
    return None if 1 <= int(value) <= 10 or value == "80" or 90 <= int(value) <= 99 else Problem.INVALID_VALUE


def _importer_index(value: str, _: date) -> Problem | None:
    return None if len(value) == 1 and value in BASE64URL else Problem.INVALID_VALUE


LINTERS: dict[str, Linter] = {
    "csum": _csum,
    "csumalpha": _csumalpha,
    "gcppos1": _company_prefix,
    "yymmd0": _yymmd0,
    "yymmdd": _yymmdd,
    "yyyymmdd": _yyyymmdd,
    "hhmi": _hhmi,
    "hh": _below(24),
    "mi": _below(60),
    "ss": _below(60),
    "nonzero": _nonzero,
    "zero": _one_of("0"),
    "yesno": _one_of("01"),
    "winding": _one_of("019"),
    "iso5218": _one_of("0129"),
    "hyphen": _one_of("-"),
    "nozeroprefix": _no_zero_prefix,
    "hasnondigit": _has_non_digit,
    "pieceoftotal": _piece_of_total,
    "pcenc": _percent_encoded,
    "latitude": _degrees(90),
    "longitude": _degrees(180),
    "posinseqslash": _position_in_sequence,
    "mediatype": _media_type,
    "importeridx": _importer_index,
}
# gcppos2 is gcppos1 after the GTIN's indicator digit.
LINTERS["gcppos2"] = lambda value, today: _company_prefix(value[1:], today)

# Named by the dictionary but deliberately not checked (reasons in the module docstring).
UNCHECKED = frozenset(
    {
        "iso3166",
        "iso3166999",
        "iso3166alpha2",
        "iso4217",
        "iban",
        "couponcode",
        "couponposoffer",
        "packagetype",
    }
)
