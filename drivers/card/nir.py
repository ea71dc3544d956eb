"""The NIR (numéro de sécurité sociale) is a health identifier: redacted unless configured."""

from __future__ import annotations

import hashlib
import hmac
import re

from drivers.card.config import NirMode

_NIR = re.compile(r"^[12378][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{6}[0-9]{2}$")


def nir_key_ok(nir: str) -> bool:
    """15 characters: 13 (with 2A/2B for Corsica) then a key of 97 - (number mod 97)."""
    if not _NIR.match(nir):
        return False
    body = nir[:13]
    if nir[5:7] == "2A":
        body = nir[:5] + "19" + nir[7:13]
    elif nir[5:7] == "2B":
        body = nir[:5] + "18" + nir[7:13]
    return 97 - int(body) % 97 == int(nir[13:])


def protect(nir: str, mode: NirMode, salt: str | None) -> tuple[str | None, str | None]:
    """(clear NIR or None, hash or None) according to the mode."""
    if mode is NirMode.CLEAR:
        return nir, None
    if mode is NirMode.HASH:
        if not salt:
            raise ValueError("hashing the NIR needs a salt")
        return None, hmac.new(salt.encode(), nir.encode(), hashlib.sha256).hexdigest()
    return None, None
