"""Keyboard layouts a scanner can emulate: which character each (key code, level) produces.

Key codes are Linux evdev codes (they name physical US positions; linux/input-event-codes.h is a
stable ABI, so they are spelled out here rather than pulled from python-evdev at runtime).
The French table follows the French Windows layout that the Inateck "French" setting emulates;
tests cross-check every entry against the xkb ``fr`` and ``us`` symbol files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum


class Key(IntEnum):
    ESC = 1
    KEY_6 = 7
    MINUS = 12
    TAB = 15
    LEFTBRACE = 26
    RIGHTBRACE = 27
    ENTER = 28
    LEFTCTRL = 29
    GRAVE = 41
    LEFTSHIFT = 42
    BACKSLASH = 43
    RIGHTSHIFT = 54
    KPASTERISK = 55
    LEFTALT = 56
    SPACE = 57
    CAPSLOCK = 58
    NUMLOCK = 69
    KP7 = 71
    KP8 = 72
    KP9 = 73
    KPMINUS = 74
    KP4 = 75
    KP5 = 76
    KP6 = 77
    KPPLUS = 78
    KP1 = 79
    KP2 = 80
    KP3 = 81
    KP0 = 82
    KPDOT = 83
    KEY_102ND = 86
    KPENTER = 96
    RIGHTCTRL = 97
    KPSLASH = 98
    RIGHTALT = 100
    LEFTMETA = 125
    RIGHTMETA = 126


# Rows of the main block, as (first key code, characters per key) for each level.
_DIGIT_ROW = 2  # KEY_1 … KEY_EQUAL = 2 … 13
_TOP_ROW = 16  # KEY_Q … KEY_RIGHTBRACE = 16 … 27
_HOME_ROW = 30  # KEY_A … KEY_GRAVE = 30 … 41
_BOTTOM_ROW = 44  # KEY_Z … KEY_SLASH = 44 … 53

KEYPAD: Mapping[int, str] = {
    Key.KP0: "0", Key.KP1: "1", Key.KP2: "2", Key.KP3: "3", Key.KP4: "4", Key.KP5: "5", Key.KP6: "6",
    Key.KP7: "7", Key.KP8: "8", Key.KP9: "9", Key.KPMINUS: "-", Key.KPPLUS: "+", Key.KPASTERISK: "*",
    Key.KPSLASH: "/", Key.KPDOT: ".",
}  # fmt: skip
KEYPAD_DIGITS: Mapping[int, int] = {code: int(ch) for code, ch in KEYPAD.items() if ch.isdigit()}


@dataclass(frozen=True)
class Layout:
    name: str
    # key code -> (plain, shift, altgr); None where the level types nothing useful.
    keys: Mapping[int, tuple[str | None, str | None, str | None]]
    caps_keys: frozenset[int]  # keys on which CapsLock acts like Shift
    has_altgr: bool
    _reverse: dict[str, tuple[int, bool, bool]] = field(default_factory=dict, compare=False, repr=False)

    def char(self, code: int, *, shift: bool, altgr: bool, caps: bool) -> str | None:
        levels = self.keys.get(code)
        if levels is None:
            return KEYPAD.get(code)
        if altgr and self.has_altgr:
            return levels[2]
        if caps and code in self.caps_keys:
            shift = not shift
        return levels[1] if shift else levels[0]

    def strokes(self, ch: str) -> tuple[int, bool, bool] | None:
        """(key code, shift, altgr) that types ``ch`` with CapsLock off; for simulators."""
        if not self._reverse:
            for code, levels in self.keys.items():
                for level, produced in enumerate(levels):
                    if produced is not None and produced not in self._reverse:
                        self._reverse[produced] = (code, level == 1, level == 2)
        return self._reverse.get(ch)


def _rows(
    rows: list[tuple[int, str, str, list[str | None] | None]],
) -> dict[int, tuple[str | None, str | None, str | None]]:
    keys: dict[int, tuple[str | None, str | None, str | None]] = {}
    for start, plain, shifted, altgr in rows:
        assert len(plain) == len(shifted)
        for i, (p, s) in enumerate(zip(plain, shifted, strict=True)):
            keys[start + i] = (p, s, altgr[i] if altgr else None)
    return keys


_US_KEYS = _rows(
    [
        (_DIGIT_ROW, "1234567890-=", "!@#$%^&*()_+", None),
        (_TOP_ROW, "qwertyuiop[]", "QWERTYUIOP{}", None),
        (_HOME_ROW, "asdfghjkl;'`", 'ASDFGHJKL:"~', None),
        (Key.BACKSLASH, "\\", "|", None),
        (_BOTTOM_ROW, "zxcvbnm,./", "ZXCVBNM<>?", None),
        (Key.SPACE, " ", " ", None),
    ]
)
_US_LETTERS = frozenset(code for code, (plain, _, _) in _US_KEYS.items() if plain and plain.isalpha())

US = Layout(name="us", keys=_US_KEYS, caps_keys=_US_LETTERS, has_altgr=False)

_N = None
_FR_KEYS = _rows(
    [
        (
            _DIGIT_ROW,
            "&é\"'(-è_çà)=",
            "1234567890°+",
            [_N, "~", "#", "{", "[", "|", "`", "\\", "^", "@", "]", "}"],
        ),
        (_TOP_ROW, "azertyuiop^$", "AZERTYUIOP¨£", [_N, _N, "€", _N, _N, _N, _N, _N, _N, _N, _N, "¤"]),
        (_HOME_ROW, "qsdfghjklmù", "QSDFGHJKLM%", None),
        (Key.GRAVE, "²", "²", None),  # Windows: no shifted character on this key
        (Key.BACKSLASH, "*", "µ", None),
        (_BOTTOM_ROW, "wxcvbn,;:!", "WXCVBN?./§", None),
        (Key.KEY_102ND, "<", ">", None),
        (Key.SPACE, " ", " ", None),
    ]
)
# French Windows: CapsLock shifts the letters and also the digit row (it types digits).
_FR_CAPS = frozenset(
    code for code, (plain, _, _) in _FR_KEYS.items() if plain and plain.isascii() and plain.isalpha()
) | frozenset(range(_DIGIT_ROW, _DIGIT_ROW + 10))

FR = Layout(name="fr", keys=_FR_KEYS, caps_keys=_FR_CAPS, has_altgr=True)

LAYOUTS: Mapping[str, Layout] = {"us": US, "fr": FR}
