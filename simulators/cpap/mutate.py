"""Seeded corruptions of an STR.edf image, for the reader's totality fuzz and by-hand checks.

A card that went through a bad SD slot, a hex editor or a forger looks like one of these: a header
field rewritten (numbers out of range, garbage, non-ASCII), daily values forged with their record's
Crc16 recomputed (so the checksum cannot catch them), random bytes flipped, or the file cut short.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from passerelle.drivers.cpap.checksums import crc16_ccitt_false

# (offset, width) of the fixed 256-byte header fields after the version: patient, recording, start
# date, start time, header bytes, reserved, number of records, record duration, number of signals.
FIXED_FIELDS = ((8, 80), (88, 80), (168, 8), (176, 8), (184, 8), (192, 44), (236, 8), (244, 8), (252, 4))
# Per-signal header fields, stored field by field for all signals: (width, name).
SIGNAL_FIELDS = (
    (16, "label"),
    (80, "transducer"),
    (8, "dimension"),
    (8, "physical_min"),
    (8, "physical_max"),
    (8, "digital_min"),
    (8, "digital_max"),
    (80, "prefiltering"),
    (8, "samples"),
    (32, "reserved"),
)
# Values that break naive number parsing or scaling.
NASTY_TEXT = (
    "", "-1", "0", "-0", "1e309", "nan", "inf", "99999999", "-9999999", "1.5", "0x10", "  7  ",
    "12.34.56", "31.02.26", "00.00.00", "99.99.99", "25.13.24", "24.60.00", "MaskOn", "Duration",
)  # fmt: skip
EXTREME_SAMPLES = (-32768, -32767, -2, -1, 0, 1, 1439, 1440, 1441, 2880, 9999, 32767)
KINDS = ("fixed_field", "signal_field", "sample", "samples_forged_day", "flip", "truncate")


@dataclass(frozen=True, slots=True)
class Mutation:
    kind: str
    detail: str
    raw: bytes


def _nasty(rng: random.Random, width: int) -> bytes:
    choice = rng.random()
    if choice < 0.5:
        text = rng.choice(NASTY_TEXT)
    elif choice < 0.8:
        text = str(rng.randint(-(10 ** (width - 1)) + 1, 10**width - 1))
    else:
        return bytes(rng.randrange(256) for _ in range(width))
    return text.encode("ascii")[:width].ljust(width, b" ")


def _layout(raw: bytes) -> tuple[int, int, list[int]]:
    """Header bytes, signal count and samples per record of an intact image."""
    n = int(raw[252:256])
    base = 256 + n * (16 + 80 + 8 * 5 + 80)
    samples = [int(raw[base + 8 * i : base + 8 * i + 8]) for i in range(n)]
    return int(raw[184:192]), n, samples


def _recrc(buf: bytearray, start: int, length: int) -> None:
    """Recompute one record's trailing Crc16, as a forger would."""
    crc = crc16_ccitt_false(bytes(buf[start : start + length - 2]))
    struct.pack_into("<H", buf, start + length - 2, crc)


def mutate_str(raw: bytes, seed: int) -> Mutation:
    """One corruption of an intact STR.edf image, chosen and shaped by ``seed``."""
    rng = random.Random(seed)
    header, n, samples = _layout(raw)
    record_len = 2 * sum(samples)
    records = (len(raw) - header) // record_len
    kind = rng.choice(KINDS)
    buf = bytearray(raw)
    if kind == "fixed_field":
        offset, width = rng.choice(FIXED_FIELDS)
        buf[offset : offset + width] = _nasty(rng, width)
        detail = f"header field at {offset}"
    elif kind == "signal_field":
        i = rng.randrange(n)
        field = rng.randrange(len(SIGNAL_FIELDS))
        width, name = SIGNAL_FIELDS[field]
        at = 256 + n * sum(w for w, _ in SIGNAL_FIELDS[:field]) + width * i
        buf[at : at + width] = _nasty(rng, width)
        detail = f"signal {i} {name}"
    elif kind in ("sample", "samples_forged_day"):
        r = rng.randrange(records)
        start = header + r * record_len
        count = 1 if kind == "sample" else rng.randint(2, 12)
        for _ in range(count):
            word = rng.randrange(sum(samples) - 1)  # never the Crc16 word itself
            value = rng.choice(EXTREME_SAMPLES) if rng.random() < 0.6 else rng.randint(-32768, 32767)
            struct.pack_into("<h", buf, start + 2 * word, value)
        _recrc(buf, start, record_len)
        detail = f"{count} sample(s) of record {r}, Crc16 recomputed"
    elif kind == "flip":
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        detail = "random bytes"
    else:
        cut = rng.randrange(len(buf))
        del buf[cut:]
        detail = f"cut at {cut}"
    return Mutation(kind, detail, bytes(buf))


def forge(raw: bytes, record: int, label: str, values: Sequence[int]) -> bytes:
    """Overwrite the first samples of signal ``label`` in one daily record and recompute that
    record's Crc16: the forgery a checksum cannot catch."""
    header, n, samples = _layout(raw)
    labels = [raw[256 + 16 * i : 272 + 16 * i].decode("latin-1").strip() for i in range(n)]
    i = labels.index(label)
    record_len = 2 * sum(samples)
    start = header + record * record_len
    buf = bytearray(raw)
    for k, value in enumerate(values[: samples[i]]):
        struct.pack_into("<h", buf, start + 2 * (sum(samples[:i]) + k), value)
    _recrc(buf, start, record_len)
    return bytes(buf)
