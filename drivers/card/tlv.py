"""BER-TLV decoding for the public files (one- and two-byte tags, short and long lengths)."""

from __future__ import annotations

from dataclasses import dataclass


class MalformedDataError(ValueError):
    """The card's data does not decode as expected."""


@dataclass(frozen=True, slots=True)
class Tlv:
    tag: int
    value: bytes

    @property
    def constructed(self) -> bool:
        first = self.tag >> 8 if self.tag > 0xFF else self.tag
        return bool(first & 0x20)

    def children(self) -> list[Tlv]:
        return parse(self.value)


def parse(data: bytes) -> list[Tlv]:
    items: list[Tlv] = []
    pos = 0
    while pos < len(data):
        if data[pos] in (0x00, 0xFF):  # padding between objects
            pos += 1
            continue
        tag = data[pos]
        pos += 1
        if tag & 0x1F == 0x1F:
            if pos >= len(data):
                raise MalformedDataError("truncated tag")
            tag = (tag << 8) | data[pos]
            pos += 1
        if pos >= len(data):
            raise MalformedDataError(f"no length after tag {tag:X}")
        length = data[pos]
        pos += 1
        if length & 0x80:
            size = length & 0x7F
            if size == 0 or size > 2 or pos + size > len(data):
                raise MalformedDataError(f"bad length encoding after tag {tag:X}")
            length = int.from_bytes(data[pos : pos + size], "big")
            pos += size
        if pos + length > len(data):
            raise MalformedDataError(f"tag {tag:X} claims {length} bytes, {len(data) - pos} left")
        items.append(Tlv(tag, data[pos : pos + length]))
        pos += length
    return items


def find_all(items: list[Tlv], tag: int) -> list[Tlv]:
    """Every object with this tag, depth first in order, looking inside constructed objects."""
    found: list[Tlv] = []
    for item in items:
        if item.tag == tag:
            found.append(item)
        elif item.constructed:
            found.extend(find_all(item.children(), tag))
    return found
