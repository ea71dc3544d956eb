"""The public vector suites of gs1/gs1-syntax-engine and jodal/biip, run as data.

Every vector must agree with upstream except the disagreements listed here, each with its reason;
a listed vector that starts agreeing fails too, so the list cannot go stale.
Regenerate the data with tests/unit/drivers/scanner/vectors/extract_vectors.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from .vectors.agreement import agrees, applicable, load

_NO_IDENTIFIER = "scanners may send no AIM identifier: unprefixed data is decoded, not refused"
_EMPTY = "an empty scan is reported as the 'empty' problem, not accepted"
_COMPOSITE = "'|' joining two symbols is the engine's own notation, never sent by a scanner"
_UNKNOWN_AIS = "unknown AIs (89, 3338) are refused: upstream allows them in this mode only"
_BIIP_GRAI = "biip's GRAI example fails the GS1 check digit of its N13 part (1 expected, not 2)"

KNOWN_DISAGREEMENTS: dict[str, str] = {
    "src/c-lib/scandata.c:844": _NO_IDENTIFIER,
    "src/c-lib/scandata.c:845": _NO_IDENTIFIER,
    "src/c-lib/scandata.c:846": _NO_IDENTIFIER,
    "src/c-lib/scandata.c:852": _EMPTY,
    "src/c-lib/scandata.c:879": _EMPTY,
    "src/c-lib/scandata.c:894": _EMPTY,
    "src/c-lib/scandata.c:936": _COMPOSITE,
    "src/c-lib/scandata.c:947": _COMPOSITE,
    "src/c-lib/scandata.c:980": "a URL with no GS1 primary key in its path is a plain URL (manuals, portals)",
    "src/c-lib/ai.c:2060": _UNKNOWN_AIS,
    "src/c-lib/ai.c:2061": _UNKNOWN_AIS,
    "src/c-lib/ai.c:2062": _UNKNOWN_AIS,
    "src/c-lib/ai.c:2063": _UNKNOWN_AIS,
    "src/c-lib/ai.c:2064": _UNKNOWN_AIS,
    "src/c-lib/ai.c:2084": _UNKNOWN_AIS,
    "src/c-lib/ai.c:2085": _UNKNOWN_AIS,
    "src/c-lib/dl.c:1392": "IPv6 zone identifiers in a link's host are not checked",
    "tests/test_gs1_messages.py:54": _BIIP_GRAI,
    "tests/test_gs1_element_strings.py:128": _BIIP_GRAI,
    "tests/test_gs1_messages.py:84": "biip lets the lot swallow (15)210526: we suspect a missing separator",
    "tests/test_gs1_digital_link_uris.py:42": "12-digit GTIN in a link path: GS1 refuses it, biip pads it",
}
# Content rules left out on purpose (docs/scanners.md): upstream errors we do not raise.
LEFT_OUT_LINTERS = {
    "GS1_LINTER_COUPON_": "North American coupon structures (8110, 8112) are not medical codes",
    "GS1_LINTER_NOT_ISO3166": "country code lists are not shipped",
    "GS1_LINTER_NOT_ISO4217": "currency code lists are not shipped",
    "GS1_LINTER_IBAN_": "IBAN (8007) country formats are not shipped",
    "GS1_LINTER_INVALID_IBAN_": "IBAN (8007) country formats are not shipped",
    "GS1_LINTER_ILLEGAL_IBAN_": "IBAN (8007) country formats are not shipped",
    "GS1_LINTER_INCORRECT_IBAN_": "IBAN (8007) country formats are not shipped",
}


def _known_reason(vector: dict[str, Any]) -> str | None:
    error = vector.get("upstream_error", "")
    for prefix, reason in LEFT_OUT_LINTERS.items():
        if error.startswith(prefix):
            return reason
    return KNOWN_DISAGREEMENTS.get(vector["source"])


def _cases(name: str) -> list[Any]:
    return [
        pytest.param(vector, id=f"{vector['source']}:{vector['input'][:40]!r}")
        for vector in load(name)
        if applicable(vector)
    ]


@pytest.mark.parametrize("vector", _cases("gs1_syntax_engine") + _cases("biip"))
def test_public_vector(vector: dict[str, Any]) -> None:
    reason = _known_reason(vector)
    if reason is None:
        assert agrees(vector), f"upstream says {vector['expect']} for {vector['input']!r}"
    else:
        assert not agrees(vector), f"listed as a known disagreement ({reason}) but now agrees"


def test_the_suites_are_all_there() -> None:
    """Guards against an extraction that silently lost most vectors."""
    assert sum(applicable(v) for v in load("gs1_syntax_engine")) >= 430
    assert len(load("biip")) >= 50
