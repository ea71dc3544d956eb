"""What the operator decides about scan content: the NIR policy and the patterns of the opaque
e-prescription (ordonnance numérique) and appli carte Vitale (ApCV) QR codes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from passerelle.drivers.nir import NirMode

# Neither format is public (see docs/scanners.md): these defaults are *unverified* guesses, kept
# narrow so that lot labels, part numbers and other short tokens never match; correct them in
# [scanner] e_prescription_patterns / apcv_patterns once a real code has been seen.
DEFAULT_E_PRESCRIPTION_PATTERNS = (r"[0-9A-Z]{20,40}",)
DEFAULT_APCV_PATTERNS = (r"[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",)

OpaqueKind = Literal["e_prescription", "apcv"]


@dataclass(frozen=True)
class ScanRules:
    nir_mode: NirMode = NirMode.REDACT
    nir_salt: str | None = None
    e_prescription: tuple[re.Pattern[str], ...] = ()
    apcv: tuple[re.Pattern[str], ...] = ()

    def with_nir_mode(self, mode: NirMode) -> ScanRules:
        return replace(self, nir_mode=mode)


def compile_patterns(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for pattern in patterns)


DEFAULT_RULES = ScanRules(
    e_prescription=compile_patterns(DEFAULT_E_PRESCRIPTION_PATTERNS),
    apcv=compile_patterns(DEFAULT_APCV_PATTERNS),
)


def opaque_kind(data: str, rules: ScanRules) -> OpaqueKind | None:
    """Which opaque QR token ``data`` is, by full match of a configured pattern; ApCV first, as its
    default pattern is the more specific one."""
    if any(pattern.fullmatch(data) for pattern in rules.apcv):
        return "apcv"
    if any(pattern.fullmatch(data) for pattern in rules.e_prescription):
        return "e_prescription"
    return None
