"""Opt-in reading of a card's public data without disturbing the software that owns the card.

The certified SESAM-Vitale stack may hold a session (and a verified CPS PIN) on the same card, so a
read: uses its own context; skips cards another application has connected; connects SHARED; keeps its
APDUs inside one transaction; and leaves the card powered (SCARD_LEAVE_CARD) on the way out — pyscard's
default disposition would power it off and break that session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from passerelle.drivers.card import tlv
from passerelle.drivers.card.apdu import ApduError, ProtocolError
from passerelle.drivers.card.atr import READABLE_CARDS, CardType
from passerelle.drivers.card.cpx import CpxHolderReader, RawHolder, SimulatedCpxReader
from passerelle.drivers.card.pcsc_api import (
    E_NO_SMARTCARD,
    E_SHARING_VIOLATION,
    S_SUCCESS,
    STATE_EXCLUSIVE,
    STATE_INUSE,
    STATE_PRESENT,
    W_REMOVED_CARD,
    PcscError,
    code,
    note_first_use,
)
from passerelle.drivers.card.vitale import RawBeneficiary, read_beneficiaries


class CardInUseError(Exception):
    """Another application has the card: not an error, we just do not read now."""


class CardGoneError(Exception):
    """The card left the reader before or during the read."""


@dataclass
class ReadResult:
    status: str  # ok | in_use | error | unsupported | card_removed
    error: str | None = None
    beneficiaries: list[RawBeneficiary] = field(default_factory=list)
    holder: RawHolder | None = None


class PublicDataReader:
    def __init__(self, cpx_reader: CpxHolderReader | None = None) -> None:
        from smartcard import scard

        self._scard: Any = scard
        note_first_use()
        self._cpx = cpx_reader or SimulatedCpxReader()

    def read(self, reader: str, card_type: CardType) -> ReadResult:
        """Blocking: run it in a worker thread under a deadline."""
        if card_type not in READABLE_CARDS:
            return ReadResult("unsupported", f"no public data known for {card_type.value}")
        try:
            return self._read(reader, card_type)
        except CardInUseError:
            return ReadResult("in_use")
        except CardGoneError:
            return ReadResult("card_removed")
        except ApduError as exc:
            return ReadResult("error", str(exc))
        except (ProtocolError, tlv.MalformedDataError, PcscError) as exc:
            return ReadResult("error", f"{type(exc).__name__}: {exc}")

    def _read(self, reader: str, card_type: CardType) -> ReadResult:
        s = self._scard
        rc, context = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
        if code(rc) != S_SUCCESS:
            raise PcscError("SCardEstablishContext", rc)
        try:
            rc, states = s.SCardGetStatusChange(context, 0, [(reader, 0)])
            if code(rc) == S_SUCCESS and states:
                flags = int(states[0][1])
                if not flags & STATE_PRESENT:
                    raise CardGoneError
                if flags & (STATE_INUSE | STATE_EXCLUSIVE):
                    raise CardInUseError
            rc, card, protocol = s.SCardConnect(
                context, reader, s.SCARD_SHARE_SHARED, s.SCARD_PROTOCOL_T0 | s.SCARD_PROTOCOL_T1
            )
            if code(rc) == E_SHARING_VIOLATION:
                raise CardInUseError
            if code(rc) in (E_NO_SMARTCARD, W_REMOVED_CARD):
                raise CardGoneError
            if code(rc) != S_SUCCESS:
                raise PcscError("SCardConnect", rc)
            try:
                rc = s.SCardBeginTransaction(card)
                if code(rc) == E_SHARING_VIOLATION:
                    raise CardInUseError
                if code(rc) != S_SUCCESS:
                    raise PcscError("SCardBeginTransaction", rc)
                try:
                    transmit = self._transmitter(card, protocol)
                    if card_type is CardType.VITALE2:
                        return ReadResult("ok", beneficiaries=read_beneficiaries(transmit))
                    return ReadResult("ok", holder=self._cpx.read(transmit))
                finally:
                    s.SCardEndTransaction(card, s.SCARD_LEAVE_CARD)
            finally:
                s.SCardDisconnect(card, s.SCARD_LEAVE_CARD)
        finally:
            s.SCardReleaseContext(context)

    def _transmitter(self, card: int, protocol: int) -> Callable[[bytes], bytes]:
        s = self._scard

        def transmit(capdu: bytes) -> bytes:
            rc, response = s.SCardTransmit(card, protocol, list(capdu))
            if code(rc) in (E_NO_SMARTCARD, W_REMOVED_CARD):
                raise CardGoneError
            if code(rc) != S_SUCCESS:
                raise PcscError("SCardTransmit", rc)
            return bytes(response)

        return transmit
