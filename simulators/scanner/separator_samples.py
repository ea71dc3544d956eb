"""Seeded samples of generated medicine DataMatrix codes, for the lost-GS heuristic.

Lots and serials follow the shapes seen on French medicine packs: letters and digits, all digits, and
letter-prefixed batch numbers. Each named sample is a generator and a seed, so the test suite
(tests/unit/drivers/scanner/test_lost_separator.py) and the bench (bench/scan_decode.py) measure the
same codes.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from datetime import date

from passerelle.drivers.scanner.checks import gs1_check_digit
from passerelle.drivers.scanner.decode import decode_text
from passerelle.drivers.scanner.payload import Problem

TODAY = date(2026, 11, 24)
GS = "\x1d"
SAMPLE = 10_000
_ALNUM = string.ascii_uppercase + string.digits


def _gtin(rng: random.Random) -> str:
    body = "03400" + "".join(rng.choices(string.digits, k=8))
    return body + str(gs1_check_digit(body))


def _expiry(rng: random.Random) -> str:
    return f"{rng.randint(26, 35):02d}{rng.randint(1, 12):02d}{rng.choice([0, rng.randint(1, 28)]):02d}"


def _lot(rng: random.Random) -> str:
    style = rng.randrange(4)
    if style == 0:
        return "".join(rng.choices(_ALNUM, k=rng.randint(3, 10)))
    if style == 1:
        return "".join(rng.choices(string.digits, k=rng.randint(4, 8)))
    letter = rng.choice(string.ascii_uppercase)
    if style == 2:  # K300, L240612
        return letter + "".join(rng.choices(string.digits, k=rng.randint(3, 6)))
    return letter + "".join(rng.choices(string.digits, k=4)) + rng.choice(string.ascii_uppercase)  # B2406A


def _serial(rng: random.Random) -> str:
    alphabet = _ALNUM if rng.random() < 0.5 else string.digits
    return "".join(rng.choices(alphabet, k=rng.randint(8, 20)))


def _rate(make: Callable[[random.Random], str], seed: int) -> tuple[float, float]:
    """(share flagged missing_separator_suspected, share valid) over SAMPLE generated scans."""
    rng = random.Random(seed)
    flagged = valid = 0
    for _ in range(SAMPLE):
        payload = decode_text(make(rng), today=TODAY)
        flagged += Problem.MISSING_SEPARATOR_SUSPECTED in payload.problems
        valid += payload.valid
    return flagged / SAMPLE, valid / SAMPLE


def _head(rng: random.Random) -> str:
    return f"]d201{_gtin(rng)}17{_expiry(rng)}"


# Named sample -> (scan generator, seed). The bench (bench/scan_decode.py) prints the same rates.
SAMPLES: dict[str, tuple[Callable[[random.Random], str], int]] = {
    "separated lot GS serial": (lambda r: f"{_head(r)}10{_lot(r)}{GS}21{_serial(r)}", 1),
    "separated serial GS lot": (lambda r: f"{_head(r)}21{_serial(r)}{GS}10{_lot(r)}", 2),
    "stripped lot+serial": (lambda r: f"{_head(r)}10{_lot(r)}21{_serial(r)}", 3),
    "stripped serial+lot": (lambda r: f"{_head(r)}21{_serial(r)}10{_lot(r)}", 6),
    "lot last, no GS needed": (lambda r: f"{_head(r)}10{_lot(r)}", 4),
    "serial last, no GS needed": (lambda r: f"{_head(r)}21{_serial(r)}", 5),
}


def sample_rate(name: str) -> tuple[float, float]:
    return _rate(*SAMPLES[name])
