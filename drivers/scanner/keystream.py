"""Keyboard-wedge decoding: struct input_event records in, complete scans out.

One pure state machine, shared by the HID driver (live event node, FIFO or file) and by
``passerelle decode --from-evdev``. It tracks Shift, AltGr, Ctrl, Alt and CapsLock itself (with
the device grabbed, the host's layout and lock state do not apply), turns Ctrl+] and Alt + keypad
digits back into GS, ends a scan on the terminator key or an idle gap, ignores autorepeat, and on
SYN_DROPPED discards the rest of the packet and forgets modifier state.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from passerelle.drivers.scanner.keymaps import KEYPAD_DIGITS, Key, Layout
from passerelle.drivers.scanner.payload import Problem

# struct input_event on 64-bit Linux: struct timeval (two longs), u16 type, u16 code, s32 value.
EVENT = struct.Struct("@llHHi")
EVENT_SIZE = EVENT.size  # 24

EV_SYN, EV_KEY = 0x00, 0x01
SYN_REPORT, SYN_DROPPED = 0, 3
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2

_SHIFTS = {Key.LEFTSHIFT, Key.RIGHTSHIFT}
_CTRLS = {Key.LEFTCTRL, Key.RIGHTCTRL}
# Ctrl + these US positions give the C0 controls above 0x1A (what a scanner sends as HID usages).
_CTRL_POSITIONS: dict[int, str] = {Key.LEFTBRACE: "\x1b", Key.BACKSLASH: "\x1c", Key.RIGHTBRACE: "\x1d"}
_CTRL_SHIFT_POSITIONS: dict[int, str] = {
    Key.KEY_6: "\x1e",
    Key.MINUS: "\x1f",
}  # Ctrl+Shift+6 (^) = RS, Ctrl+_ = US
_SPECIAL: dict[int, str] = {Key.ENTER: "\r", Key.KPENTER: "\r", Key.TAB: "\t"}
_IGNORED = {Key.NUMLOCK, Key.LEFTMETA, Key.RIGHTMETA}
# Keys that only change state (kept in ``_pressed``) and never type a character themselves.
_MODIFIERS = frozenset(_SHIFTS | _CTRLS | {Key.LEFTALT, Key.RIGHTALT} | _IGNORED)


@dataclass
class KeyScan:
    text: str
    started_at: float  # event timestamps (seconds), first and last key of the scan
    ended_at: float
    terminated: bool  # ended by the terminator key (False: idle gap, end of stream, unplug)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class DecoderStats:
    scans: int = 0
    dropped_fragments: int = 0  # short idle-ended fragments: human typing on a shared interface
    syn_dropped: int = 0
    unmapped_keys: int = 0


class KeyStreamDecoder:
    def __init__(
        self,
        layout: Layout,
        *,
        terminators: Iterable[str] = ("\r", "\n"),
        idle_gap: float = 0.1,
        min_length: int = 3,
        max_length: int = 4096,
    ) -> None:
        self.layout = layout
        self.terminators = frozenset(terminators)
        self.idle_gap = idle_gap
        self.min_length = min_length
        self.max_length = max_length
        self.stats = DecoderStats()
        self._partial = b""
        self._pressed: set[int] = set()
        self._caps = False
        self._dropping = False
        self._alt_digits = ""
        self._chars: list[str] = []
        self._problems: list[Problem] = []
        self._first = 0.0
        self._last = 0.0

    # -- input --------------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[KeyScan]:
        """Raw bytes of input_event records; a record split across reads is kept for later."""
        buf = self._partial + data
        whole = len(buf) - len(buf) % EVENT_SIZE
        self._partial = buf[whole:]
        out: list[KeyScan] = []
        for sec, usec, ev_type, code, value in EVENT.iter_unpack(buf[:whole]):
            out.extend(self.feed_event(sec + usec / 1e6, ev_type, code, value))
        return out

    def feed_event(self, when: float, ev_type: int, code: int, value: int) -> list[KeyScan]:
        out: list[KeyScan] = []
        if ev_type == EV_SYN:
            if code == SYN_DROPPED:
                self._on_dropped()
            elif code == SYN_REPORT:
                self._dropping = False
            return out
        if ev_type != EV_KEY or self._dropping or value == KEY_REPEAT:
            return out
        if value == KEY_UP:
            self._on_release(code, when, out)
            return out
        self._on_press(code, when, out)
        return out

    def resync(self, pressed: Iterable[int]) -> None:
        """After SYN_DROPPED on a live device: the keys the kernel says are down now."""
        self._pressed = set(pressed)

    def set_caps_lock(self, on: bool) -> None:
        """Initial CapsLock state (from the device's LED) when a live node is opened."""
        self._caps = on

    def idle_deadline(self) -> float | None:
        """Event time after which the pending scan ends by idle gap (None when nothing pends)."""
        return self._last + self.idle_gap if self._chars else None

    def flush(self, problem: Problem = Problem.TERMINATOR_MISSING) -> KeyScan | None:
        """End the pending scan without a terminator (idle timer, end of stream, unplug)."""
        return self._finish(terminated=False, problem=problem)

    # -- state machine ------------------------------------------------------------------------
    def _on_dropped(self) -> None:
        self.stats.syn_dropped += 1
        self._dropping = True
        self._pressed.clear()
        self._alt_digits = ""
        if self._chars and Problem.EVENTS_DROPPED not in self._problems:
            self._problems.append(Problem.EVENTS_DROPPED)

    def _alt_down(self) -> bool:
        if Key.LEFTALT in self._pressed:
            return True
        return not self.layout.has_altgr and Key.RIGHTALT in self._pressed

    def _on_release(self, code: int, when: float, out: list[KeyScan]) -> None:
        was_alt = self._alt_down()
        self._pressed.discard(code)
        if was_alt and not self._alt_down() and self._alt_digits:
            number, self._alt_digits = self._alt_digits, ""
            self._emit(_alt_code(number), when, out)

    def _on_press(self, code: int, when: float, out: list[KeyScan]) -> None:
        if code == Key.CAPSLOCK:
            self._caps = not self._caps
            return
        self._pressed.add(code)
        if code in _MODIFIERS:
            return
        if self._alt_down() and code in KEYPAD_DIGITS:
            self._alt_digits += str(KEYPAD_DIGITS[code])
            return
        ch = self._character(code)
        if ch is None:
            self.stats.unmapped_keys += 1
            if Problem.UNMAPPED_KEY not in self._problems:
                self._problems.append(Problem.UNMAPPED_KEY)
            self._touch(when, out)
            return
        self._emit(ch, when, out)

    def _character(self, code: int) -> str | None:
        shift = bool(self._pressed & _SHIFTS)
        ctrl = bool(self._pressed & _CTRLS)
        altgr = self.layout.has_altgr and Key.RIGHTALT in self._pressed
        if code in _SPECIAL:
            return _SPECIAL[code]
        if ctrl:
            if shift and code in _CTRL_SHIFT_POSITIONS:
                return _CTRL_SHIFT_POSITIONS[code]
            if code in _CTRL_POSITIONS and not altgr:
                return _CTRL_POSITIONS[code]
            base = self.layout.char(code, shift=shift, altgr=altgr, caps=False)
            if base is not None and base.isascii() and (base.isalpha() or base in "@[\\]^_"):
                return chr(ord(base.upper()) & 0x1F)
            return None
        return self.layout.char(code, shift=shift, altgr=altgr, caps=self._caps)

    def _touch(self, when: float, out: list[KeyScan]) -> None:
        if self._chars and when - self._last > self.idle_gap:
            scan = self._finish(terminated=False, problem=Problem.TERMINATOR_MISSING)
            if scan is not None:
                out.append(scan)
        if not self._chars:
            self._first = when
        self._last = when

    def _emit(self, ch: str, when: float, out: list[KeyScan]) -> None:
        if ch in self.terminators:
            if self._chars and when - self._last > self.idle_gap:
                # A late Enter: what was pending already ended by the idle gap.
                late = self._finish(terminated=False, problem=Problem.TERMINATOR_MISSING)
                if late is not None:
                    out.append(late)
                return
            scan = self._finish(terminated=True, problem=None)
            if scan is not None:
                out.append(scan)
            return
        self._touch(when, out)
        if len(self._chars) >= self.max_length:
            if Problem.TOO_LONG not in self._problems:
                self._problems.append(Problem.TOO_LONG)
            return
        self._chars.append(ch)

    def _finish(self, *, terminated: bool, problem: Problem | None) -> KeyScan | None:
        text = "".join(self._chars)
        problems = list(self._problems)
        self._chars.clear()
        self._problems.clear()
        if not text:
            return None
        if len(text) < self.min_length:
            self.stats.dropped_fragments += 1
            return None
        if problem is not None and problem not in problems:
            problems.append(problem)
        self.stats.scans += 1
        return KeyScan(text, self._first, self._last, terminated, problems)


def _alt_code(number: str) -> str:
    """Windows Alt+keypad: a leading 0 selects the ANSI code page (cp1252), otherwise the OEM one
    (cp850); values below 32 are the C0 controls (Alt+029 = GS)."""
    value = int(number) % 256
    if value < 32:
        return chr(value)
    return bytes([value]).decode("cp1252" if number.startswith("0") else "cp850", "replace")
