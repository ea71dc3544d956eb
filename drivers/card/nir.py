"""The NIR (numéro de sécurité sociale) is a health identifier: redacted unless configured.

The rules live in ``passerelle.drivers.nir`` so that the scanner family applies the very same ones.
"""

from __future__ import annotations

from passerelle.drivers.nir import NirMode, nir_key_ok, protect

__all__ = ["NirMode", "nir_key_ok", "protect"]
