"""APDU exchange with the two status-word conventions cards use to talk about lengths.

61xx: more data is waiting; fetch it with GET RESPONSE (00 C0 00 00 xx), repeatedly.
6Cxx: wrong Le; send the same command again with Le = xx.
"""

from __future__ import annotations

from collections.abc import Callable

MAX_CHAIN = 32  # GET RESPONSE rounds before we call the card broken


class ApduError(Exception):
    """The card answered with an error status word."""

    def __init__(self, command: str, sw: int) -> None:
        super().__init__(f"{command}: status {sw:04X}")
        self.command = command
        self.sw = sw


class ProtocolError(Exception):
    """The card's answers make no sense (too short, endless chains)."""


def exchange(transmit: Callable[[bytes], bytes], capdu: bytes, command: str = "APDU") -> bytes:
    """Send a command and return its data, following 61xx and 6Cxx; raise ApduError on errors."""
    rapdu = transmit(capdu)
    if len(rapdu) < 2:
        raise ProtocolError(f"{command}: answer of {len(rapdu)} bytes")
    if rapdu[-2] == 0x6C:
        # Only case-2 commands (a trailing Le) can be resent with another Le.
        rapdu = transmit(capdu[:4] + bytes([rapdu[-1]]))
        if len(rapdu) < 2:
            raise ProtocolError(f"{command}: answer of {len(rapdu)} bytes")
    data = bytearray(rapdu[:-2])
    sw1, sw2 = rapdu[-2], rapdu[-1]
    rounds = 0
    while sw1 == 0x61:
        rounds += 1
        if rounds > MAX_CHAIN:
            raise ProtocolError(f"{command}: more than {MAX_CHAIN} GET RESPONSE rounds")
        rapdu = transmit(bytes([0x00, 0xC0, 0x00, 0x00, sw2]))
        if len(rapdu) < 2:
            raise ProtocolError(f"{command}: GET RESPONSE answer of {len(rapdu)} bytes")
        data += rapdu[:-2]
        sw1, sw2 = rapdu[-2], rapdu[-1]
    sw = (sw1 << 8) | sw2
    if sw != 0x9000 and sw1 not in (0x62, 0x63):  # 62xx/63xx are warnings with usable data
        raise ApduError(command, sw)
    return bytes(data)


def select_file(fid: bytes) -> bytes:
    return bytes([0x00, 0xA4, 0x00, 0x00, len(fid)]) + fid


def select_aid(aid: bytes) -> bytes:
    return bytes([0x00, 0xA4, 0x04, 0x00, len(aid)]) + aid


def read_binary_sfi(sfi: int, le: int = 0) -> bytes:
    """READ BINARY of a short file id (P1 = 80 | SFI), from offset 0."""
    return bytes([0x00, 0xB0, 0x80 | sfi, 0x00, le])
