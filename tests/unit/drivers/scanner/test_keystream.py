"""The key-event decoder against real input_event byte streams and the xkb keymaps."""

from __future__ import annotations

import string

import pytest

from passerelle.drivers.scanner.keymaps import FR, LAYOUTS, US, Key, Layout
from passerelle.drivers.scanner.keystream import (
    EV_KEY,
    EV_SYN,
    EVENT_SIZE,
    KEY_DOWN,
    KEY_UP,
    SYN_REPORT,
    KeyScan,
    KeyStreamDecoder,
)
from passerelle.drivers.scanner.payload import Problem
from passerelle.simulators.scanner.keyboard import RawEvent, Typist, pack
from tests.unit.drivers.scanner import xkb

PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"


def decode(stream: bytes, layout: Layout, **kwargs: float) -> list[KeyScan]:
    decoder = KeyStreamDecoder(layout, **kwargs)  # type: ignore[arg-type]
    scans = decoder.feed(stream)
    tail = decoder.flush()
    return scans + ([tail] if tail else [])


def test_input_event_is_24_bytes() -> None:
    assert EVENT_SIZE == 24


@pytest.mark.parametrize("layout", [US, FR], ids=["us", "fr"])
def test_every_printable_ascii_character_has_a_key_and_decodes_back(layout: Layout) -> None:
    for ch in PRINTABLE:
        assert layout.strokes(ch) is not None, ch
    assert set(CSET82) <= set(PRINTABLE)
    text = PRINTABLE.replace(" ", "") + " " + CSET82
    scans = decode(pack(Typist(layout).type(text)), layout)
    assert [s.text for s in scans] == [text]
    assert scans[0].terminated
    assert scans[0].problems == []


@pytest.mark.parametrize(("name", "spec"), [("us", "us(basic)"), ("fr", "fr(basic)")])
def test_tables_agree_with_xkb_data(name: str, spec: str) -> None:
    codes = {code: key for key, code in xkb.keycodes().items()}
    symbols = xkb.symbols(spec)
    layout = LAYOUTS[name]
    checked = 0
    for code, levels in layout.keys.items():
        xkb_levels = symbols.get(codes.get(code, ""), [])
        for level, ours in enumerate(levels):
            if ours is None or level >= len(xkb_levels) or xkb.char(xkb_levels[level]) is None:
                continue
            if name == "fr" and code == Key.GRAVE:  # Windows has no shifted ² key character
                continue
            assert xkb.char(xkb_levels[level]) == ours, (code, level)
            checked += 1
    assert checked >= (90 if name == "us" else 100)


def test_french_digit_row_and_moved_letters_from_the_reference() -> None:
    bare = {2: "&", 3: "é", 4: '"', 5: "'", 6: "(", 7: "-", 8: "è", 9: "_", 10: "ç", 11: "à"}
    for code, ch in bare.items():
        assert FR.char(code, shift=False, altgr=False, caps=False) == ch
        assert FR.char(code, shift=True, altgr=False, caps=False) == str((code - 1) % 10)
    moved = {16: "a", 30: "q", 17: "z", 44: "w", 39: "m", 50: ","}
    for code, ch in moved.items():
        assert FR.char(code, shift=False, altgr=False, caps=False) == ch
    for ch in "@#{[|]}":
        stroke = FR.strokes(ch)
        assert stroke is not None, ch
        assert stroke[2], ch  # AltGr


def test_layout_mismatch_symptom() -> None:
    """A scanner typing US while we decode French: digits come out as &é… and A/Q swap."""
    scans = decode(pack(Typist(US).type("HA112")), FR)
    assert scans[0].text == "HQ&&é"


@pytest.mark.parametrize("gs_mode", ["ctrl", "alt"])
@pytest.mark.parametrize("layout", [US, FR], ids=["us", "fr"])
def test_group_separator_recovered(layout: Layout, gs_mode: str) -> None:
    text = "]d2010340093000023610AB\x1d21XYZ"
    typist = Typist(layout, gs_mode=gs_mode)  # type: ignore[arg-type]
    scans = decode(pack(typist.type(text)), layout)
    assert [s.text for s in scans] == [text]


def test_rs_eot_for_iso15434_and_non_ascii_through_alt_codes() -> None:
    text = "[)>\x1e06\x1d1PABC\x1e\x04"
    assert decode(pack(Typist(US).type(text)), US)[0].text == text
    assert decode(pack(Typist(US).type("Réf-é")), US)[0].text == "Réf-é"


def test_capslock_inverts_letters_and_french_digit_row() -> None:
    typist = Typist(FR)
    events: list[RawEvent] = [
        (typist.now, EV_KEY, Key.CAPSLOCK, KEY_DOWN),
        (typist.now, EV_KEY, Key.CAPSLOCK, KEY_UP),
    ]
    typist.pause(0.001)
    # Bare KEY_Q, KEY_1, KEY_2 with CapsLock on: A, 1, 2 (French Windows behaviour).
    for code in (16, 2, 3):
        events += [(typist.now, EV_KEY, code, KEY_DOWN), (typist.now, EV_KEY, code, KEY_UP)]
        typist.pause(0.003)
    events += typist.type("", terminator="\r")
    assert decode(pack(events), FR)[0].text == "A12"


def test_autorepeat_is_ignored() -> None:
    typist = Typist(US)
    events = typist.type("AB", terminator=None)
    events.insert(4, (events[3][0], EV_KEY, Key.LEFTSHIFT, 2))
    a_down = next(i for i, e in enumerate(events) if e[2] == 30 and e[3] == KEY_DOWN)
    events.insert(a_down + 1, (events[a_down][0], EV_KEY, 30, 2))
    events += typist.type("C")
    assert decode(pack(events), US)[0].text == "ABC"


def test_syn_dropped_mid_scan_flags_the_scan_and_resets_modifiers() -> None:
    typist = Typist(US)
    events = typist.type("ABC", terminator=None)
    events += [(typist.now, EV_KEY, Key.LEFTSHIFT, KEY_DOWN)]
    events += typist.syn_dropped()
    events += [(typist.now, EV_KEY, 31, KEY_DOWN)]  # lost with the rest of the packet
    events += [(typist.now, EV_SYN, SYN_REPORT, 0)]
    events += typist.type("def")
    scans = decode(pack(events), US)
    assert [s.text for s in scans] == ["ABCdef"]  # Shift forgotten: its release may be lost too
    assert scans[0].problems == [Problem.EVENTS_DROPPED]


def test_missing_terminator_is_flushed_by_idle_gap_and_at_end_of_stream() -> None:
    typist = Typist(US)
    events = typist.type("FIRST1", terminator=None)
    typist.pause(0.5)
    events += typist.type("SECOND2", terminator=None)
    scans = decode(pack(events), US, idle_gap=0.1)
    assert [(s.text, s.terminated, s.problems) for s in scans] == [
        ("FIRST1", False, [Problem.TERMINATOR_MISSING]),
        ("SECOND2", False, [Problem.TERMINATOR_MISSING]),
    ]


def test_interleaved_slow_human_typing_is_not_a_scan() -> None:
    scanner = Typist(US)
    events = scanner.type("3400930000236")
    human = Typist(US, key_interval=0.25, now=scanner.now + 1.0)
    events += human.type("hello")
    scanner.now = human.now + 1.0
    events += scanner.type("3401560012346")
    decoder = KeyStreamDecoder(US, idle_gap=0.1)
    scans = decoder.feed(pack(events))
    assert [s.text for s in scans] == ["3400930000236", "3401560012346"]
    assert decoder.stats.dropped_fragments == 5


def test_records_split_across_reads_are_reassembled() -> None:
    stream = pack(Typist(FR).type("LOT-42/B"))
    decoder = KeyStreamDecoder(FR)
    scans = []
    for i in range(0, len(stream), 7):
        scans += decoder.feed(stream[i : i + 7])
    assert [s.text for s in scans] == ["LOT-42/B"]


def test_unmapped_key_is_a_typed_problem() -> None:
    typist = Typist(US)
    events = typist.type("AB", terminator=None)
    events += [(typist.now, EV_KEY, 59, KEY_DOWN), (typist.now, EV_KEY, 59, KEY_UP)]  # F1
    events += typist.type("CD")
    scans = decode(pack(events), US)
    assert scans[0].text == "ABCD"
    assert scans[0].problems == [Problem.UNMAPPED_KEY]


def test_printable_sanity() -> None:
    assert PRINTABLE.startswith(" !")
    assert set(string.ascii_letters) <= set(PRINTABLE)


def test_inventory_burst_back_to_back_is_split_on_terminators() -> None:
    typist = Typist(FR)
    texts = [f"]C0{10101234560 + i}" for i in range(20)]
    events = [event for text in texts for event in typist.type(text)]
    scans = decode(pack(events), FR)
    assert [s.text for s in scans] == texts
    assert all(s.terminated for s in scans)


def test_initial_caps_lock_from_the_device_led() -> None:
    decoder = KeyStreamDecoder(US)
    decoder.set_caps_lock(True)
    scans = decoder.feed(pack(Typist(US).type("abc1")))
    assert [s.text for s in scans] == ["ABC1"]
