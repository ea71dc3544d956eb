"""NIRs anywhere in a scan are handled per ``nir_mode`` in every field, ``raw`` included."""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import cast

import pytest

from passerelle.drivers.nir import NirMode, nir_key, protect
from passerelle.drivers.scanner.config import ScannerSection
from passerelle.drivers.scanner.decode import decode_text
from passerelle.drivers.scanner.payload import Problem, ScanPayload
from passerelle.drivers.scanner.rules import ScanRules

TODAY = date(2026, 6, 1)
BODY = "2910199001002"  # NIR-shaped and not a valid EAN-13
NIR = BODY + f"{nir_key(BODY):02d}"
HASH_RULES = ScannerSection.model_validate({"nir_mode": "hash", "nir_salt": "pepper"}).rules()


def _leaks(payload: ScanPayload, digits: str = BODY) -> bool:
    return digits in "".join(ch for ch in payload.model_dump_json() if ch.isdigit() or ch == "\n")


@pytest.mark.parametrize(
    "raw",
    [
        BODY,  # 13 digits without the key: was an EAN-13 with a bad check digit, in raw and gtin
        "]E0" + BODY,
        NIR,
        "2 91 01 99 001 002 " + NIR[13:],
        "2.91.01.99.001.002." + NIR[13:],
        "2\u00a091\u00a001\u00a099\u00a0001\u00a0002\u00a0" + NIR[13:],
        "2\u202f91\u202f01\u202f99\u202f001\u202f002",
        "NIR: " + NIR,
        "N° SS 2 91 01 99 001 002 " + NIR[13:] + " / tel 01 23 45 67 89",
        "]d20103400930000236" + "91" + NIR,  # inside GS1 AI 91, the last field
        "]d20103400930000236" + "99" + NIR + "\x1d10LOT1",
        "DC04FR01AB122A3F2A400101FR" + "10" + NIR + "\x1dAADUPONT\x1fABCDEFGH234567",  # inside a 2D-Doc
        "https://example.org/?nir=" + NIR,
        "1850" + "52A123456" + f"{nir_key('185052A123456'):02d}",  # Corsica
    ],
)
def test_nir_forms_are_redacted_everywhere(raw: str) -> None:
    payload = decode_text(raw, today=TODAY)
    assert payload.redacted
    digits = BODY if BODY[:6] in raw.replace(" ", "").replace(".", "").replace("\u00a0", "") else "52A123456"
    assert digits not in payload.model_dump_json()
    compact = "".join(ch for ch in payload.model_dump_json() if ch.isalnum())
    assert BODY not in compact and "185052A123456" not in compact


def test_around_the_nir_stays_readable() -> None:
    payload = decode_text("]d20103400930000236" + "91" + NIR, today=TODAY)
    assert (payload.kind, payload.gtin, payload.cip13) == ("gs1", "03400930000236", "3400930000236")
    assert payload.raw == "]d20103400930000236" + "91" + "*" * 15
    assert payload.elements is not None and payload.elements[1].value == "*" * 15
    labelled = decode_text("NIR: " + NIR, today=TODAY)
    assert (labelled.kind, labelled.raw) == ("text", "NIR: " + "*" * 15)


@pytest.mark.parametrize(
    "raw",
    ["3400930000236", "5012345678900", "0103400930000236", "10101234564", NIR[:13] + "99", "1234567890123"],
)
def test_product_codes_and_non_nirs_stay_readable(raw: str) -> None:
    payload = decode_text(raw, today=TODAY)
    assert not payload.redacted
    assert payload.raw == raw


def test_hash_mode_masks_and_hashes_like_the_card_family() -> None:
    for raw in (NIR, BODY, "NIR " + NIR[:1] + " " + NIR[1:]):
        payload = decode_text(raw, today=TODAY, rules=HASH_RULES)
        assert payload.redacted and not _leaks(payload)
        assert payload.nir_hashes == [protect(NIR, NirMode.HASH, "pepper")[1]]


def test_clear_mode_and_publish_nir_keep_it() -> None:
    clear = ScannerSection.model_validate({"nir_mode": "clear"}).rules()
    by_mode, by_device = decode_text(NIR, today=TODAY, rules=clear), decode_text(NIR, allow_nir=True)
    for payload in (by_mode, by_device):
        assert (payload.raw, payload.redacted) == (NIR, False)


def test_hash_mode_needs_a_salt() -> None:
    with pytest.raises(ValueError, match="nir_salt"):
        ScannerSection.model_validate({"nir_mode": "hash"})


class ExplodingPattern:
    """A stand-in for a configured ``re.Pattern`` whose matching fails, quoting the scan as
    exceptions often do: the way to reach the decoder's last-resort path now that no known input
    does."""

    def fullmatch(self, text: str) -> None:
        raise RuntimeError(f"cannot match {text!r}")


def test_a_decoder_failure_is_one_scan_with_a_problem_and_a_log_without_the_nir(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rules = ScanRules(e_prescription=(cast(re.Pattern[str], ExplodingPattern()),))
    with caplog.at_level(logging.ERROR, logger="passerelle.drivers.scanner.decode"):
        payload = decode_text("]Q1ID" + NIR + "X", today=TODAY, rules=rules)
    assert (payload.kind, payload.valid, payload.problems) == ("text", False, [Problem.DECODER_ERROR])
    assert payload.raw == "]Q1ID" + "*" * 15 + "X"
    (record,) = caplog.records
    assert "RuntimeError at " in record.getMessage() and "test_nir.py" in record.getMessage()
    assert BODY not in caplog.text
