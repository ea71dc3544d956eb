"""Splitting a raw serial byte stream into scans: terminators, idle flush and a length cap."""

from __future__ import annotations

from passerelle.drivers.scanner.config import TERMINATOR_CHARS
from passerelle.drivers.scanner.payload import Problem

# The same end characters the HID decoder uses, as bytes: one table says what each setting means.
_ENDS = {name: "".join(chars).encode("ascii") for name, chars in TERMINATOR_CHARS.items()}


class SerialFramer:
    """``cr``/``lf``/``crlf`` all end a scan on CR or LF (a scanner set to CRLF while we expect CR
    must not produce empty scans or stray LFs); ``tab`` on Tab; ``none`` only by idle gap."""

    def __init__(self, terminator: str = "cr", max_length: int = 4096) -> None:
        self.ends = _ENDS[terminator]
        self.max_length = max_length
        self._buf = bytearray()
        self._overflow = False

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    def _take(self, problem: Problem | None) -> tuple[bytes, list[Problem]] | None:
        data, overflow = bytes(self._buf), self._overflow
        self._buf.clear()
        self._overflow = False
        if not data:
            return None
        problems = [Problem.TOO_LONG] if overflow else []
        if problem is not None:
            problems.append(problem)
        return data, problems

    def _append(self, chunk: bytes) -> None:
        room = self.max_length - len(self._buf)
        if len(chunk) > room:
            self._overflow = True
            chunk = chunk[: max(room, 0)]
        self._buf += chunk

    def feed(self, data: bytes) -> list[tuple[bytes, list[Problem]]]:
        out: list[tuple[bytes, list[Problem]]] = []
        start = 0
        for i, byte in enumerate(data):
            if self.ends and byte in self.ends:
                self._append(data[start:i])
                frame = self._take(None)
                if frame is not None:
                    out.append(frame)
                start = i + 1
        self._append(data[start:])
        return out

    def flush(self, problem: Problem = Problem.TERMINATOR_MISSING) -> tuple[bytes, list[Problem]] | None:
        return self._take(problem)
