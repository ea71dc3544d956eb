"""Check-digit algorithms used by the decoders (GS1 mod 10, HIBC mod 43)."""

from __future__ import annotations

HIBC_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%"


def gs1_check_digit(payload: str) -> int:
    """Check digit for the digits in ``payload`` (everything but the check digit itself).

    Weights 3,1,3,… starting from the rightmost payload digit.
    """
    total = sum(int(ch) * (3 if i % 2 == 0 else 1) for i, ch in enumerate(reversed(payload)))
    return (10 - total % 10) % 10


def gs1_check_ok(number: str) -> bool:
    return (
        number.isascii()
        and number.isdigit()
        and len(number) >= 2
        and (gs1_check_digit(number[:-1]) == int(number[-1]))
    )


def hibc_check_character(data: str) -> str | None:
    """Mod 43 check character over ``data`` (leading ``+`` included); None if a character is
    outside the HIBC alphabet."""
    total = 0
    for ch in data:
        value = HIBC_ALPHABET.find(ch)
        if value < 0:
            return None
        total += value
    return HIBC_ALPHABET[total % 43]
