"""A tiny reader of xkb symbol files (xkb-data), to check our layout tables against a real source."""

from __future__ import annotations

import re
from pathlib import Path

XKB = Path("/usr/share/X11/xkb")

# Keysym names that appear on the levels we use, and the characters they type. Dead keys type
# their spacing character when followed by a space, which is how scanners end up using them.
KEYSYMS = {
    "space": " ", "exclam": "!", "quotedbl": '"', "numbersign": "#", "dollar": "$", "percent": "%",
    "ampersand": "&", "apostrophe": "'", "parenleft": "(", "parenright": ")", "asterisk": "*",
    "plus": "+", "comma": ",", "minus": "-", "period": ".", "slash": "/", "colon": ":",
    "semicolon": ";", "less": "<", "equal": "=", "greater": ">", "question": "?", "at": "@",
    "bracketleft": "[", "backslash": "\\", "bracketright": "]", "asciicircum": "^",
    "underscore": "_", "grave": "`", "braceleft": "{", "bar": "|", "braceright": "}",
    "asciitilde": "~", "eacute": "é", "egrave": "è", "ccedilla": "ç", "agrave": "à", "ugrave": "ù",
    "degree": "°", "twosuperior": "²", "sterling": "£", "currency": "¤", "section": "§", "mu": "µ",
    "EuroSign": "€", "dead_circumflex": "^", "dead_diaeresis": "¨",
}  # fmt: skip


def char(name: str) -> str | None:
    """Character typed by a keysym name; single letters and digits are their own names."""
    return name if len(name) == 1 else KEYSYMS.get(name)


def keycodes() -> dict[str, int]:
    """xkb key name (<AE01>) -> evdev code (xkb keycode - 8)."""
    text = (XKB / "keycodes" / "evdev").read_text()
    return {m[1]: int(m[2]) - 8 for m in re.finditer(r"^\s*(<\w+>)\s*=\s*(\d+);", text, re.M)}


def _block(file: str, section: str | None) -> str:
    text = (XKB / "symbols" / file).read_text()
    if section is None:
        match = re.search(r'default[^\n]*\n\s*xkb_symbols\s+"(\w+)"', text)
        assert match is not None
        section = match[1]
    start = text.index(f'xkb_symbols "{section}"')
    return text[start : text.index("\n};", start)]


def symbols(spec: str) -> dict[str, list[str]]:
    """Key name -> keysym names per level for ``file(section)``, following includes in order."""
    file, _, rest = spec.partition("(")
    block = _block(file, rest.rstrip(")") or None)
    keys: dict[str, list[str]] = {}
    for line in block.splitlines():
        include = re.match(r'\s*include\s+"([^"]+)"', line)
        if include and not include[1].startswith("level3"):
            keys.update(symbols(include[1]))
            continue
        key = re.match(r"\s*key\s+(<\w+>)\s*\{\s*\[([^\]]*)\]", line)
        if key:
            keys[key[1]] = [name.strip() for name in key[2].split(",")]
    return keys
