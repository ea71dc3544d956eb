"""The NIR (numéro d'inscription au répertoire, the French social security number): its shape, its
key and the one policy (``nir_mode``) that decides how it may leave the daemon.

Shared by the card family (read from a Vitale card) and the scanner family (found in a scan). It
lives beside the families, not inside one, so that neither family imports the other, and not in the
core, which knows nothing of French health identifiers.

Shape of the 13-character body, as checked here:

- sex: 1 or 2; 3, 4, 7 or 8 for temporary numbers;
- year of birth: two digits;
- month of birth: 01-12, or the special values 20-42 and 50-99 (incomplete civil records);
- department: two digits 01-99, or 2A / 2B (Corsica);
- commune: three digits; order in the commune's register: three digits, 001-999.

The key is 97 - (body mod 97), computed with 2A read as 19 and 2B as 18.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from enum import StrEnum


class NirMode(StrEnum):
    REDACT = "redact"  # default: the NIR never leaves the daemon
    HASH = "hash"  # HMAC-SHA256 with the configured salt: lets a consumer match without knowing it
    CLEAR = "clear"  # only when the operator explicitly wants the identifier itself


_BODY = re.compile(
    r"[123478][0-9]{2}(?:0[1-9]|1[0-2]|[23][0-9]|4[0-2]|[5-9][0-9])"
    r"(?:0[1-9]|[1-9][0-9]|2A|2B)[0-9]{3}(?!000)[0-9]{3}"
)
_CORSICA = {"2A": "19", "2B": "18"}


def nir_body_shaped(body: str) -> bool:
    """Whether 13 characters have the shape of a NIR without its key (see the module docstring)."""
    return len(body) == 13 and _BODY.fullmatch(body) is not None


def nir_key(body: str) -> int:
    """The key of a NIR-shaped body."""
    department = body[5:7]
    numeric = body[:5] + _CORSICA.get(department, department) + body[7:]
    return 97 - int(numeric) % 97


def nir_key_ok(nir: str) -> bool:
    """15 characters: a NIR-shaped body then its two-digit key."""
    return (
        len(nir) == 15
        and nir_body_shaped(nir[:13])
        and nir[13:].isascii()
        and nir[13:].isdigit()
        and nir_key(nir[:13]) == int(nir[13:])
    )


def nir_hash(nir: str, salt: str) -> str:
    """HMAC-SHA256 of the NIR: the same number hashes alike wherever it was read."""
    return hmac.new(salt.encode(), nir.encode(), hashlib.sha256).hexdigest()


def protect(nir: str, mode: NirMode, salt: str | None) -> tuple[str | None, str | None]:
    """(clear NIR or None, hash or None) according to the mode."""
    if mode is NirMode.CLEAR:
        return nir, None
    if mode is NirMode.HASH:
        if not salt:
            raise ValueError("hashing the NIR needs a salt")
        return None, nir_hash(nir, salt)
    return None, None
