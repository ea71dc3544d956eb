"""The demo's and the tests' virtual card reader cannot be reached from the network: vpcd listens on
every interface, so the isolated pcscd runs in a network namespace of its own (loopback only) and the
virtual cards come in through a Unix socket relayed into it."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest

from passerelle.drivers.card.pcsc_api import STATE_EMPTY, STATE_PRESENT
from passerelle.simulators.card.isolated_pcscd import IsolatedPcscd
from passerelle.simulators.card.virtual_cards import make_card
from tests.card.conftest import Slots, wait_slots_state

TCP_LISTEN = "0A"


def _listening_addresses(port: int) -> set[str]:
    """Addresses with a socket listening on ``port`` in this process's network namespace."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if int(hex_port, 16) == port and fields[3] == TCP_LISTEN:
                raw = bytes.fromhex(address)
                # /proc prints each 32-bit word of the address in host (little-endian) order
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(str(ipaddress.ip_address(words)))
    return found


def test_virtual_reader_is_not_listening_on_the_network(pcscd: IsolatedPcscd, slots: Slots) -> None:
    assert pcscd.process is not None
    for port in (pcscd.port, pcscd.port + 1):
        assert _listening_addresses(port) == set(), "vpcd listens in the machine's network namespace"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    card = slots.insert(make_card("cps3"), slot=1)  # through the bridge
    wait_slots_state(STATE_PRESENT, slots=(1,))
    assert card.controls.get_atr > 0
    card.remove()
    wait_slots_state(STATE_EMPTY, slots=(1,))
