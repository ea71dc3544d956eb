"""Card type from the ATR.

Our own table, built from public facts (see docs/cards.md): masks where a family of cards varies in
known positions, exact values where neighbouring ATRs belong to unrelated cards (the Bull CP8 family
behind Vitale 1 also covers bank and parking cards). The installed pcsc-tools list is only read at run
time for a human label of cards we do not classify; it is never copied here.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

SMARTCARD_LIST = Path("/usr/share/pcsc/smartcard_list.txt")


class CardType(StrEnum):
    VITALE1 = "vitale1"
    VITALE2 = "vitale2"
    CPS3 = "cps3"
    CPS3_CONTACTLESS = "cps3_contactless"
    CPS4 = "cps4"
    UNKNOWN = "unknown"


PATIENT_CARDS = frozenset({CardType.VITALE1, CardType.VITALE2})
PROFESSIONAL_CARDS = frozenset({CardType.CPS3, CardType.CPS3_CONTACTLESS, CardType.CPS4})
# Cards with public data we know how to read (see drivers/card/public_read.py).
READABLE_CARDS = PROFESSIONAL_CARDS | {CardType.VITALE2}

OWN_LABELS = {
    CardType.VITALE1: "Carte Vitale 1",
    CardType.VITALE2: "Carte Vitale 2",
    CardType.CPS3: "CPx 3 (contact)",
    CardType.CPS3_CONTACTLESS: "CPx 3 (contactless)",
    CardType.CPS4: "CPx 4",
}


class AtrError(ValueError):
    """The text is not an ATR (not hex, odd length, too short or too long)."""


def parse_atr(text: str) -> bytes:
    """Accept "3B 75 13…", "3B:75:13…" or "3b7513…"."""
    cleaned = re.sub(r"[\s:.-]", "", text)
    if not cleaned or len(cleaned) % 2 or not re.fullmatch(r"[0-9A-Fa-f]+", cleaned):
        raise AtrError(f"not an ATR in hex: {text!r}")
    atr = bytes.fromhex(cleaned)
    # ISO 7816-3: TS plus at most 32 more bytes; TS is 3B (direct) or 3F (inverse convention).
    if len(atr) < 2 or len(atr) > 33:
        raise AtrError(f"an ATR has 2 to 33 bytes, got {len(atr)}")
    return atr


def atr_hex(atr: bytes) -> str:
    return atr.hex(" ").upper()


def tck_index(atr: bytes) -> int | None:
    """Where the check byte TCK must be, or None when the ATR declares no TCK.

    ISO 7816-3: T0's high nibble says which of TA1..TD1 follow, each TDi's high nibble which of the next
    group; T0's low nibble counts the historical bytes. TCK follows them when any TDi names a protocol
    other than T=0. An ATR cut short of its own interface bytes gets the index past its end."""
    if len(atr) < 2:
        return None
    presence, historical = atr[1] >> 4, atr[1] & 0x0F
    position, other_protocol = 2, False
    while True:
        position += (presence & 0x7).bit_count()  # TAi, TBi, TCi
        if not presence & 0x8:  # no TDi: the last group
            break
        if position >= len(atr):
            return position
        other_protocol |= atr[position] & 0x0F != 0
        presence = atr[position] >> 4
        position += 1
    return position + historical if other_protocol else None


def checksum_ok(atr: bytes) -> bool:
    """True when the ATR needs no TCK, or ends with one that makes T0..TCK XOR to zero."""
    index = tck_index(atr)
    if index is None:
        return True
    return index == len(atr) - 1 and functools.reduce(operator.xor, atr[1:], 0) == 0


@dataclass(frozen=True, slots=True)
class _Pattern:
    card_type: CardType
    value: bytes
    mask: bytes

    def matches(self, atr: bytes) -> bool:
        if len(atr) != len(self.value):
            return False
        return all(a & m == v & m for a, v, m in zip(atr, self.value, self.mask, strict=True))


def _exact(card_type: CardType, value: str) -> _Pattern:
    raw = bytes.fromhex(value)
    return _Pattern(card_type, raw, b"\xff" * len(raw))


def _masked(card_type: CardType, value: str, mask: str) -> _Pattern:
    return _Pattern(card_type, bytes.fromhex(value), bytes.fromhex(mask))


_PATTERNS: tuple[_Pattern, ...] = (
    # Vitale 2: one nibble varies between issues (43…4C seen); a future one should still classify.
    _masked(CardType.VITALE2, "3B 75 13 00 00 40 09 EA 90 00", "FF FF FF FF FF F0 FF FF FF FF"),
    _exact(CardType.VITALE2, "3B 75 13 00 00 45 09 FA 90 00"),
    # Vitale 1 (inverse convention, Bull CP8): exact values only.
    *(
        _exact(CardType.VITALE1, f"3F 65 25 00 {b4} 09 {b6} 90 00")
        for b4 in ("22", "2C")
        for b6 in ("F9", "69")
    ),
    _exact(CardType.VITALE1, "3F 65 25 00 52 09 6A 90 00"),
    _exact(CardType.VITALE1, "3F 65 25 00 A3 09 6A 90 00"),
    _exact(CardType.VITALE1, "3F 65 25 00 A4 09 6A 90 00"),
    # CPS4 before CPS3: "3B DC 18 FF …" also fits the CPS3 mask; exact entries win.
    _exact(CardType.CPS4, "3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44"),
    _exact(CardType.CPS4, "3B 9B 18 80 01 00 12 25 00 64 80 00 04 01 00 90 44"),
    _exact(CardType.CPS4, "3B DC 18 FF 00 00 12 25 00 64 80 00 04 01 00 90 00"),
    # CPS3 contact (IAS-ECC): interface bytes and the issuer's version bytes vary.
    _masked(
        CardType.CPS3,
        "3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00",
        "FF 00 00 00 00 FF FF FF FF FF FF 00 00 00 FF FF FF",
    ),
    # CPS3 contactless: version bytes vary, and so does the TCK that covers them; classify() checks
    # the TCK itself, so a changed version with its right TCK matches and a wrong TCK does not.
    _masked(
        CardType.CPS3_CONTACTLESS,
        "3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E",
        "FF FF FF FF FF FF FF FF 00 00 FF C0 FF FF FF FF FF FF FF 00",
    ),
)


def classify(atr: bytes) -> CardType:
    """First match wins: the table goes from exact to looser patterns. An ATR whose TCK does not check
    was garbled on the way (or forged): it is no known card."""
    if not checksum_ok(atr):
        return CardType.UNKNOWN
    for pattern in _PATTERNS:
        if pattern.matches(atr):
            return pattern.card_type
    return CardType.UNKNOWN


@dataclass(frozen=True, slots=True)
class Classification:
    card_type: CardType
    atr: str  # upper-case hex with spaces
    label: str | None


def describe(atr: bytes, smartcard_list: Path = SMARTCARD_LIST) -> Classification:
    """Type and a human label: ours for known types, pcsc-tools' list for the others (if installed)."""
    card_type = classify(atr)
    label = OWN_LABELS.get(card_type)
    if label is None:
        label = lookup_label(atr, smartcard_list)
    return Classification(card_type, atr_hex(atr), label)


def lookup_label(atr: bytes, smartcard_list: Path = SMARTCARD_LIST) -> str | None:
    text = atr_hex(atr)
    for pattern, label in _load_list(smartcard_list):
        if pattern.fullmatch(text):
            return label
    return None


@functools.lru_cache(maxsize=4)
def _load_list(path: Path) -> tuple[tuple[re.Pattern[str], str], ...]:
    """Entries of smartcard_list.txt: an ATR regex line, then tab-indented descriptions."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ()
    entries: list[tuple[re.Pattern[str], str]] = []
    pending: str | None = None
    for line in lines:
        if not line or line.startswith("#"):
            pending = None
            continue
        if line.startswith("\t"):
            if pending is not None:
                # one malformed line in a third-party list must not hide the others
                with contextlib.suppress(re.error):
                    entries.append((re.compile(pending.upper()), line.strip()))
                pending = None
            continue
        pending = line.strip()
    return tuple(entries)
