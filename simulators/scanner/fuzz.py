"""Seeded scan-text generators for the decoder's totality fuzz and the NIR leak test.

Inputs mix three sources, each from a seeded ``random.Random``: free text over an alphabet rich in
what broke decoders before (superscript and non-Latin digits, control characters, AIM prefixes,
envelope headers), real codes of every kind with random edits, and NIRs written in every way a
person or a form would write them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from passerelle.drivers.nir import nir_key
from passerelle.drivers.scanner.checks import gs1_check_ok

SEPARATORS = (" ", ".", "\u00a0", "\u202f", "\u2009")
_PIECES = (
    *"0123456789" * 3,
    *"²³¹⁰⁴⁵⁶⁷⁸⁹٣٠۵०१߁", # superscripts and other scripts' digits: str.isdigit() yet not 0-9
    *"ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz",
    *"()[]{}=&+$%/-.:_ ~é\u00a0\u202f",
    *"\x00\x04\x07\x1b\x1d\x1e\x1f\x7f\uf71b\u241d\ufffd\U0001f600",
    "]d2", "]C1", "]C0", "]Q1", "]Q3", "]E0", "]e0", "]I0", "]z0", "]A0",
    "01", "10", "11", "17", "21", "240", "7003", "8006", "91", "99", "(01)", "(17)",
    "DC0", "DC04", "http://", "https://id.gs1.org/01/", "[)>\x1e06", "+A123", "$$", "$$3", "/16D",
)  # fmt: skip
_SEEDS = (
    "]d2010340093000023617280200102AB41\x1d21H8KQ3P7W2M9",
    "]C1010703206980498810032915210526",
    "https://id.gs1.org/01/09506000134352/10/ABC/21/XYZ?17=280229",
    "+A123BJC5D6E71/$$52001510X3C",
    "DC04FR01AB122A3F2A400101FR10JEAN\x1d20DUPONT\x1fABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
    "DC02FR01AB122A3FFFFF0110X\x1fMFRGG",
    "[)>\x1e06\x1d1PABC\x1e\x04",
    "=A99971234567",
    "3400930000236",
    "03400930000236",
    "]C010101234564",
    "750712184",
    "1A2B3C4D5E6F7G8H9J0K",
)


def nir_forms(rng: random.Random) -> tuple[str, str]:
    """(a NIR written some way, its 13-character body): with or without key, separators, a label,
    Corsica, inside GS1 AI 91-99 or a 2D-Doc field."""
    department = rng.choice(["2A", "2B", f"{rng.randint(1, 95):02d}", "97", "99"])
    month = rng.choice([rng.randint(1, 12), rng.randint(20, 42), rng.randint(50, 99)])
    body = (
        f"{rng.choice('123478')}{rng.randint(0, 99):02d}{month:02d}{department}"
        f"{rng.randint(0, 999):03d}{rng.randint(1, 999):03d}"
    )
    nir = body + f"{nir_key(body):02d}" if rng.random() < 0.7 else body
    groups = [nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:]]
    written = rng.choice(SEPARATORS).join(g for g in groups if g) if rng.random() < 0.5 else nir
    wrapper = rng.randrange(6)
    if wrapper == 0 and written == body and gs1_check_ok(body):
        written = nir = body + f"{nir_key(body):02d}"  # a bare valid EAN-13 is a product: stays shown
    if wrapper == 1:
        written = rng.choice(["NIR: ", "N° SS ", "nir=", "Sécu\u00a0: "]) + written
    elif wrapper == 2:
        written = f"]d20103400930000236{rng.randint(91, 99)}{written}"
    elif wrapper == 3:
        written = f"]d20103400930000236{rng.randint(91, 99)}{written}\x1d10LOT{rng.randint(0, 99)}"
    elif wrapper == 4:
        written = f"DC04FR01AB122A3F2A400101FR{rng.choice(['10', '4A', 'AB'])}{written}\x1dXX\x1fMFRGG"
    elif wrapper == 5:
        written = f"https://example.org/p?nir={written}"
    return written, body


def _free_text(rng: random.Random) -> str:
    return "".join(rng.choices(_PIECES, k=rng.randint(0, 48)))


def _mutated(rng: random.Random) -> str:
    chars = list(rng.choice(_SEEDS))
    for _ in range(rng.randint(1, 4)):
        where = rng.randrange(len(chars) + 1)
        edit = rng.randrange(3)
        if edit == 0:
            chars.insert(where, rng.choice(_PIECES))
        elif edit == 1 and where < len(chars):
            chars[where] = rng.choice(_PIECES)
        elif where < len(chars):
            del chars[where]
    return "".join(chars)


def fuzz_inputs(seed: int, count: int) -> Iterator[str]:
    """``count`` scan texts, the same ones for the same seed."""
    rng = random.Random(seed)
    for _ in range(count):
        pick = rng.random()
        if pick < 0.5:
            yield _free_text(rng)
        elif pick < 0.85:
            yield _mutated(rng)
        else:
            yield nir_forms(rng)[0]
