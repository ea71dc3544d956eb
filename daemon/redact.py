"""Scrubbing for what leaves the station on request (support bundles, recent logs): secrets by setting
name, and anything shaped like a French social security number (NIR) by a deliberately broad pattern.

The core knows nothing of device families (drivers/nir.py checks a NIR's key for them); here a false
positive costs a support engineer one masked number, a false negative would publish a patient
identifier, so every 13 or 15-digit run starting like a NIR is masked, with or without separators
and with the Corsican 2A/2B department, key valid or not.
"""

from __future__ import annotations

import re
from typing import Any

NIR_MASK = "[NIR?]"
SECRET_MASK = "**********"
# Sex digit, year and month (4 digits), department (2 digits or 2A/2B), commune and order (6 digits),
# optionally the 2-digit key; single spaces, dots or dashes may separate any of them. Not inside a
# longer run of letters or digits (a UUID, a timestamp in nanoseconds).
_NIR_SHAPE = re.compile(
    r"(?<![0-9A-Za-z])[1-478](?:[ .-]?[0-9]){4}[ .-]?(?:[0-9]{2}|2[ABab])"
    r"(?:[ .-]?[0-9]){6}(?:[ .-]?[0-9]{2})?(?![0-9A-Za-z])"
)
_SECRET_KEYS = re.compile(r"password|secret|token|salt|passphrase", re.IGNORECASE)


def scrub_nir(text: str) -> str:
    return _NIR_SHAPE.sub(NIR_MASK, text)


def without_secrets(value: Any) -> Any:
    """A JSON-like tree with the values of secret-named keys masked (``password_file``, a path, stays)."""
    if isinstance(value, dict):
        return {
            key: SECRET_MASK
            if _SECRET_KEYS.search(str(key)) and not str(key).endswith("_file") and item is not None
            else without_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    return value
