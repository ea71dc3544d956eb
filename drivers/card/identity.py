"""Reader identity that survives plug order.

pcsc-lite names readers "<name> [<interface>] (<serial>) NN SS": NN is an index given in plug order,
SS the slot. A reader is keyed by everything before NN (name, interface, serial); the device id is a
slug of that. Slots of one reader share a device; which slot holds which card is told by the ATR.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAIL = re.compile(r"^(?P<base>.*?)\s+(?P<index>[0-9A-Fa-f]{2})\s+(?P<slot>[0-9A-Fa-f]{2})$")
_SERIAL = re.compile(r"\(([^()]*)\)\s*$")
_INTERFACE = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True, slots=True)
class ReaderName:
    full: str
    base: str  # the name without index and slot: stable across plug order
    index: int | None
    slot: int
    serial: str | None
    interface: str | None

    @property
    def model(self) -> str:
        model = _SERIAL.sub("", self.base)
        return _INTERFACE.sub("", model).strip() or self.base


def parse_reader_name(full: str) -> ReaderName:
    match = _TAIL.match(full)
    if match is None:  # not a pcsc-lite name (another PC/SC stack): the whole name, slot 0
        base, index, slot = full.strip(), None, 0
    else:
        base, index, slot = match["base"].strip(), int(match["index"], 16), int(match["slot"], 16)
    serial = _SERIAL.search(base)
    interface = _INTERFACE.search(base)
    return ReaderName(
        full=full,
        base=base,
        index=index,
        slot=slot,
        serial=serial.group(1).strip() or None if serial else None,
        interface=interface.group(1).strip() or None if interface else None,
    )


def slug(text: str, limit: int = 48) -> str:
    """Lowercase [a-z0-9-]: safe in a topic level."""
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value[:limit].strip("-") or "reader"


def device_id(name: ReaderName) -> str:
    return slug(name.base)
