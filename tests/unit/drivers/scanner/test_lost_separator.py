"""The lost-GS heuristic on seeded samples of generated medicine DataMatrix codes
(passerelle.simulators.scanner.separator_samples).

Targets (issue 10, item 1): no false flag on a correctly separated code; at least 95 % of codes
whose GS between lot and serial was stripped are flagged; at most 1 % false flags on codes whose
only variable-length field is last (no GS needed).
"""

from __future__ import annotations

from passerelle.drivers.scanner.decode import decode_text
from passerelle.simulators.scanner.separator_samples import GS, TODAY, sample_rate


def test_correctly_separated_codes_are_never_flagged() -> None:
    assert sample_rate("separated lot GS serial") == (0.0, 1.0)
    assert sample_rate("separated serial GS lot") == (0.0, 1.0)


def test_lots_that_used_to_trigger_the_heuristic_are_clean() -> None:
    for lot in ("K300", "L240612", "B2406A"):
        payload = decode_text(f"]d201034009300002361727033110{lot}{GS}21123456789012", today=TODAY)
        assert (payload.problems, payload.lot) == ([], lot)


def test_fda_udi_example_is_not_flagged() -> None:
    # GS1 example of the FDA "UDI Formats by FDA-Accredited Issuing Agency" document.
    payload = decode_text(f"]d2010084458800328817141120107654321D{GS}2110987654d321", today=TODAY)
    assert payload.problems == []
    assert (payload.lot, payload.serial) == ("7654321D", "10987654d321")


def test_stripped_lot_then_serial_codes_are_flagged() -> None:
    flagged, valid = sample_rate("stripped lot+serial")
    assert flagged >= 0.95, flagged
    assert valid <= 1 - flagged


def test_stripped_serial_then_lot_codes_are_mostly_flagged() -> None:
    """No target in the issue; measured so that a regression shows (an all-digit serial holding
    "10…" is not split, which is what misses here)."""
    assert sample_rate("stripped serial+lot")[0] >= 0.8


def test_codes_with_only_the_last_field_variable_are_rarely_flagged() -> None:
    assert sample_rate("lot last, no GS needed")[0] <= 0.01
    assert sample_rate("serial last, no GS needed")[0] <= 0.01
