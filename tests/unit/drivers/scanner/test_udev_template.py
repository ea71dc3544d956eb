"""The udev rule template renders to well-formed rules for a given scanner."""

from __future__ import annotations

import re
from pathlib import Path

RULES = Path(__file__).parents[4] / "systemd" / "udev" / "70-passerelle-scanners.rules.in"
TOKEN = re.compile(r'\s*([A-Z_]+)(\{[^}]+\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)')
MATCH_KEYS = {"ACTION", "SUBSYSTEM", "KERNEL", "ATTRS", "ENV"}
ASSIGN_KEYS = {"GROUP", "MODE", "ENV", "SYMLINK", "TAG"}


def parse(line: str) -> list[tuple[str, str, str, str]]:
    tokens, pos = [], 0
    while pos < len(line):
        match = TOKEN.match(line, pos)
        assert match is not None, f"unparseable at {line[pos:]!r}"
        tokens.append((match[1], (match[2] or "").strip("{}"), match[3], match[4]))
        pos = match.end()
    return tokens


def test_rendered_rules_are_well_formed() -> None:
    text = RULES.read_text().replace("@VID@", "0525").replace("@PID@", "a4ac").replace("@NAME@", "counter-1")
    rules = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert not any("@" in rule for rule in rules)  # every placeholder rendered
    assert len(rules) == 4
    for rule in rules:
        tokens = parse(rule)
        for key, _, op, _ in tokens:
            assert key in (MATCH_KEYS if op in ("==", "!=") else ASSIGN_KEYS), (key, op)
    hid = dict(((k, a), v) for k, a, _, v in parse(rules[0]))
    assert hid[("ENV", "LIBINPUT_IGNORE_DEVICE")] == "1"
    assert hid[("GROUP", "")] == "passerelle-scanner"
    assert hid[("ATTRS", "idVendor")] == "0525"
    assert hid[("SYMLINK", "")] == "passerelle/counter-1"
    serial = dict(((k, a), v) for k, a, _, v in parse(rules[2]))
    assert serial[("KERNEL", "")] == "ttyACM*"
    assert serial[("ENV", "ID_MM_DEVICE_IGNORE")] == "1"
