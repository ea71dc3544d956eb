"""The few PC/SC calls the monitor makes, behind a small interface.

The real implementation is pyscard's low-level ``smartcard.scard`` module. The interface exists for one
reason: vpcd readers are static, so reader hot-plug is tested with a double of these calls; everything
else is tested against a real pcscd.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

PNP_READER = "\\\\?PnP?\\Notification"

# Return codes, as unsigned 32-bit values (pyscard may hand them back signed or unsigned).
S_SUCCESS = 0x00000000
E_CANCELLED = 0x80100002
E_UNKNOWN_READER = 0x80100009
E_TIMEOUT = 0x8010000A
E_SHARING_VIOLATION = 0x8010000B
E_NO_SMARTCARD = 0x8010000C
E_NO_READERS_AVAILABLE = 0x8010002E
W_REMOVED_CARD = 0x80100069

STATE_UNAWARE = 0x0000
STATE_IGNORE = 0x0001
STATE_CHANGED = 0x0002
STATE_UNKNOWN = 0x0004
STATE_EMPTY = 0x0010
STATE_PRESENT = 0x0020
STATE_EXCLUSIVE = 0x0080
STATE_INUSE = 0x0100
STATE_MUTE = 0x0200


def code(value: int) -> int:
    return value & 0xFFFFFFFF


class PcscError(Exception):
    def __init__(self, operation: str, rc: int) -> None:
        self.operation = operation
        self.rc = code(rc)
        super().__init__(f"{operation} failed: 0x{self.rc:08X}")


@dataclass(frozen=True, slots=True)
class ReaderStatus:
    name: str
    event_state: int  # flags in the low 16 bits, event counter in the high 16 bits
    atr: bytes


class PcscApi(Protocol):
    def establish(self) -> int:
        """A new context (raises PcscError)."""
        ...

    def release(self, context: int) -> None: ...

    def list_readers(self, context: int) -> list[str]:
        """Reader names; empty when there are none (raises PcscError on other failures)."""
        ...

    def get_status_change(
        self, context: int, timeout_ms: int, states: list[tuple[str, int]]
    ) -> tuple[int, list[ReaderStatus]]:
        """(return code, new states); the code is S_SUCCESS, E_TIMEOUT, E_CANCELLED or an error."""
        ...

    def cancel(self, context: int) -> None: ...


_bound_socket: str | None = None  # PCSCLITE_CSOCK_NAME when libpcsclite was first used here


def note_first_use() -> None:
    """libpcsclite reads PCSCLITE_CSOCK_NAME once, at its first call in the process: remember it."""
    global _bound_socket
    if _bound_socket is None:
        _bound_socket = os.environ.get("PCSCLITE_CSOCK_NAME", "")


def bind_socket(path: str | None) -> None:
    """Point this process at a pcscd socket, or say clearly why it cannot be done any more."""
    if path is None:
        return
    if _bound_socket is not None and _bound_socket != path:
        raise RuntimeError(
            f"this process already talks to pcscd at {_bound_socket or 'the default socket'};"
            f" libpcsclite cannot switch to {path} (one pcscd per process)"
        )
    os.environ["PCSCLITE_CSOCK_NAME"] = path


class ScardApi:
    """pyscard's low-level module; imported lazily so that ``passerelle atr`` works without it."""

    def __init__(self) -> None:
        from smartcard import scard

        note_first_use()

        self._scard = scard

    def establish(self) -> int:
        rc, context = self._scard.SCardEstablishContext(self._scard.SCARD_SCOPE_USER)
        if code(rc) != S_SUCCESS:
            raise PcscError("SCardEstablishContext", rc)
        return int(context)

    def release(self, context: int) -> None:
        self._scard.SCardReleaseContext(context)

    def list_readers(self, context: int) -> list[str]:
        rc, readers = self._scard.SCardListReaders(context, [])
        if code(rc) == E_NO_READERS_AVAILABLE:
            return []
        if code(rc) != S_SUCCESS:
            raise PcscError("SCardListReaders", rc)
        return [str(r) for r in readers]

    def get_status_change(
        self, context: int, timeout_ms: int, states: list[tuple[str, int]]
    ) -> tuple[int, list[ReaderStatus]]:
        rc, new_states = self._scard.SCardGetStatusChange(context, timeout_ms, states)
        return code(rc), [ReaderStatus(str(n), int(s) & 0xFFFFFFFF, bytes(a)) for n, s, a in new_states]

    def cancel(self, context: int) -> None:
        self._scard.SCardCancel(context)
