"""ResMed checksums: CRC-16/CCITT-FALSE per EDF record, CRC32 for the .crc side files."""

from __future__ import annotations

import binascii
import struct
import zlib


def crc16_ccitt_false(data: bytes | memoryview) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection): binascii's crc_hqx is that CRC."""
    return binascii.crc_hqx(data, 0xFFFF)


def identification_crc(content: bytes) -> bytes:
    """Identification.crc: CRC32 of the whole file, little-endian."""
    return struct.pack("<I", zlib.crc32(content))


def edf_side_crc(content: bytes) -> bytes:
    """DATALOG/STR .crc: CRC32 of the 256-byte fixed header, then CRC32 of the rest, little-endian."""
    return struct.pack("<II", zlib.crc32(content[:256]), zlib.crc32(content[256:]))
