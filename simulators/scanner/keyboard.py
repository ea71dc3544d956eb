"""What a scanner in USB/Bluetooth HID mode puts on the wire, as Linux input_event records.

Text is typed through a layout exactly as the scanner's own keyboard-language setting would do it:
Shift/AltGr pressed around keys, GS as Ctrl+] or Alt + keypad 0,2,9, key-downs ~3 ms apart, each
event followed by SYN_REPORT like the kernel's HID input layer does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from passerelle.drivers.scanner.keymaps import KEYPAD_DIGITS, Key, Layout
from passerelle.drivers.scanner.keystream import (
    EV_KEY,
    EV_SYN,
    EVENT,
    KEY_DOWN,
    KEY_UP,
    SYN_DROPPED,
    SYN_REPORT,
)

GsMode = Literal["ctrl", "alt", "drop"]
RawEvent = tuple[float, int, int, int]  # (time, type, code, value)
_KEYPAD_KEY = {str(digit): code for code, digit in KEYPAD_DIGITS.items()}  # "0" -> KP0 …


@dataclass
class Typist:
    layout: Layout
    gs_mode: GsMode = "ctrl"
    key_interval: float = 0.003  # between key-downs, as Inateck scanners type
    now: float = 1_700_000_000.0

    def _key(self, code: int, value: int, out: list[RawEvent]) -> None:
        out.append((self.now, EV_KEY, code, value))
        out.append((self.now, EV_SYN, SYN_REPORT, 0))
        self.now += 0.0002

    def _tap(self, code: int, out: list[RawEvent], *modifiers: int) -> None:
        for mod in modifiers:
            self._key(mod, KEY_DOWN, out)
        self._key(code, KEY_DOWN, out)
        self._key(code, KEY_UP, out)
        for mod in reversed(modifiers):
            self._key(mod, KEY_UP, out)
        self.now += self.key_interval

    def _alt_code(self, digits: str, out: list[RawEvent]) -> None:
        self._key(Key.LEFTALT, KEY_DOWN, out)
        for digit in digits:
            self._key(_KEYPAD_KEY[digit], KEY_DOWN, out)
            self._key(_KEYPAD_KEY[digit], KEY_UP, out)
        self._key(Key.LEFTALT, KEY_UP, out)
        self.now += self.key_interval

    def _control(self, ch: str, out: list[RawEvent]) -> None:
        if ch == "\x1d":
            if self.gs_mode == "ctrl":
                self._tap(Key.RIGHTBRACE, out, Key.LEFTCTRL)
            elif self.gs_mode == "alt":
                self._alt_code("029", out)
            return
        if ch == "\x1e":
            self._tap(Key.KEY_6, out, Key.LEFTCTRL, Key.LEFTSHIFT)
            return
        if ch == "\x1f":
            self._tap(Key.MINUS, out, Key.LEFTCTRL, Key.LEFTSHIFT)
            return
        letter = chr(ord(ch) | 0x60)  # ^D -> d
        stroke = self.layout.strokes(letter)
        if stroke is None:
            raise ValueError(f"cannot type control character {ord(ch):#04x}")
        self._tap(stroke[0], out, Key.LEFTCTRL)

    def type(self, text: str, terminator: str | None = "\r") -> list[RawEvent]:
        """Events for one scan; ``terminator`` None simulates a lost suffix."""
        out: list[RawEvent] = []
        for ch in text + (terminator or ""):
            if ch == "\r":
                self._tap(Key.ENTER, out)
            elif ch == "\t":
                self._tap(Key.TAB, out)
            elif ch < " ":
                self._control(ch, out)
            else:
                stroke = self.layout.strokes(ch)
                if stroke is not None:
                    code, shift, altgr = stroke
                    mods = [Key.LEFTSHIFT] if shift else [Key.RIGHTALT] if altgr else []
                    self._tap(code, out, *mods)
                else:  # not on this layout: Windows Alt+0nnn in the ANSI code page
                    self._alt_code(f"0{ch.encode('cp1252')[0]:03d}", out)
        return out

    def pause(self, seconds: float) -> None:
        self.now += seconds

    def syn_dropped(self) -> list[RawEvent]:
        return [(self.now, EV_SYN, SYN_DROPPED, 0)]


def pack(events: list[RawEvent]) -> bytes:
    records = []
    for t, ev_type, code, value in events:
        sec, usec = divmod(round(t * 1e6), 1_000_000)
        records.append(EVENT.pack(sec, usec, ev_type, code, value))
    return b"".join(records)
