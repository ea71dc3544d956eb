"""Writes EDF files byte by byte, quirks included.

edfio cannot write what ResMed writes (a UTF-8 ``°C`` in a physical dimension, digital values outside
the digital range such as -1 for empty slots, a digital maximum of 65534, 0-second EDF+D records), so
the simulator lays the bytes out itself and lets the reader prove it copes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from passerelle.drivers.cpap.checksums import crc16_ccitt_false

CRC_LABEL = "Crc16"


@dataclass(frozen=True, slots=True)
class SignalSpec:
    label: str
    samples: int  # per data record
    dimension: bytes = b""  # raw bytes: ResMed writes "°C" in UTF-8
    physical_min: str = "-32768"
    physical_max: str = "32767"
    digital_min: int = -32768
    digital_max: int = 32767
    transducer: str = ""
    prefiltering: str = ""


def crc_signal() -> SignalSpec:
    return SignalSpec(
        CRC_LABEL, 1, physical_min="0", physical_max="65535", digital_min=-32768, digital_max=32767
    )


def _field(value: str | bytes, width: int) -> bytes:
    raw = value.encode("ascii") if isinstance(value, str) else value
    if len(raw) > width:
        raise ValueError(f"EDF header field {raw!r} longer than {width} bytes")
    return raw.ljust(width, b" ")


def edf_header(
    signals: Sequence[SignalSpec],
    *,
    start: datetime,
    records: int,
    record_seconds: str,
    patient: str = "X X X X",
    recording: str = "",
    reserved: str = "",
) -> bytes:
    n = len(signals)
    head = b"".join(
        [
            _field("0", 8),
            _field(patient, 80),
            _field(recording, 80),
            _field(start.strftime("%d.%m.%y"), 8),
            _field(start.strftime("%H.%M.%S"), 8),
            _field(str(256 * (n + 1)), 8),
            _field(reserved, 44),
            _field(str(records), 8),
            _field(record_seconds, 8),
            _field(str(n), 4),
        ]
    )
    columns: list[tuple[int, list[str | bytes]]] = [
        (16, [s.label for s in signals]),
        (80, [s.transducer for s in signals]),
        (8, [s.dimension for s in signals]),
        (8, [s.physical_min for s in signals]),
        (8, [s.physical_max for s in signals]),
        (8, [str(s.digital_min) for s in signals]),
        (8, [str(s.digital_max) for s in signals]),
        (80, [s.prefiltering for s in signals]),
        (8, [str(s.samples) for s in signals]),
        (32, ["" for _ in signals]),
    ]
    for width, values in columns:
        head += b"".join(_field(v, width) for v in values)
    return head


def edf_records(signals: Sequence[SignalSpec], data: Sequence[npt.NDArray[np.int16]]) -> bytes:
    """Records of little-endian int16, signals in header order. ``data[i]`` has shape
    (records, samples_i) for every signal except a final Crc16, which is computed per record."""
    with_crc = signals[-1].label == CRC_LABEL
    body = np.concatenate([np.asarray(d, dtype="<i2") for d in data], axis=1)
    if not with_crc:
        return body.tobytes()
    out = bytearray()
    for row in body:
        raw = row.tobytes()
        out += raw + int(crc16_ccitt_false(raw)).to_bytes(2, "little")
    return bytes(out)


def annotation_records(
    groups: Sequence[Sequence[tuple[float, float, str]]], samples: int
) -> npt.NDArray[np.int16]:
    """EDF+ TAL records: the first TAL of each record is the time-keeping one (+0, 0-second
    records), then one TAL per event ``+onset\\x15duration\\x14text\\x14\\x00``."""
    rows = []
    for group in groups:
        raw = b"+0\x14\x14\x00"
        for onset, duration, text in group:
            raw += f"+{onset:g}\x15{duration:g}\x14{text}\x14\x00".encode("ascii")
        if len(raw) > samples * 2:
            raise ValueError("annotation record too long")
        rows.append(np.frombuffer(raw.ljust(samples * 2, b"\x00"), dtype="<i2"))
    if not rows:
        return np.zeros((0, samples), dtype=np.int16)
    return np.stack(rows).astype(np.int16)
