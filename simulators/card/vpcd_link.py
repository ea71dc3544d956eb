"""One virtual card inserted in one vpcd slot: our TCP connection to vpcd is the card.

vpcd's protocol: every message is a 2-byte big-endian length then data. A 1-byte message is a control
(00 power off, 01 power on, 02 reset, 04 get ATR, answered with the ATR); anything longer is a C-APDU,
answered with the R-APDU. Connecting inserts the card (once it has an ATR); closing removes it.

A card for an isolated pcscd connects through the Unix socket bridged into that pcscd's network
namespace (vpcd_bridge.py); any other port is a vpcd listening on ``host`` (``simulate card``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from passerelle.simulators.card.virtual_cards import VirtualCard
from passerelle.simulators.card.vpcd_bridge import BRIDGED_PORTS

POWER_OFF, POWER_ON, RESET, GET_ATR = 0x00, 0x01, 0x02, 0x04


@dataclass
class Controls:
    """What the reader asked of the card: the test of "we never power the card off"."""

    power_off: int = 0
    power_on: int = 0
    reset: int = 0
    get_atr: int = 0


@dataclass
class InsertedCard:
    card: VirtualCard
    port: int
    host: str = "127.0.0.1"
    bridge: Path | None = None  # an isolated pcscd's vpcd bridge socket (found by port when not given)
    controls: Controls = field(default_factory=Controls)
    connected_at: float = 0.0  # time.monotonic() of the TCP connect (the insertion)
    _sock: socket.socket | None = None
    _thread: threading.Thread | None = None
    _closed: threading.Event = field(default_factory=threading.Event)

    def insert(self, timeout: float = 5.0) -> InsertedCard:
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = self._connect()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # vpcd not listening yet (pcscd starting): retry until the deadline
        sock.settimeout(None)
        self.connected_at = time.monotonic()
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name=f"vpcd-card-{self.port}", daemon=True)
        self._thread.start()
        return self

    def _connect(self) -> socket.socket:
        bridge = self.bridge or BRIDGED_PORTS.get(self.port)
        if bridge is None:
            sock = socket.create_connection((self.host, self.port), timeout=1.0)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(1.0)
            sock.connect(str(bridge))
        except OSError:
            sock.close()
            raise
        return sock

    def remove(self) -> None:
        sock, self._sock = self._sock, None
        self._closed.set()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    @property
    def active(self) -> bool:
        return self._sock is not None and not self._closed.is_set()

    def _serve(self) -> None:
        sock = self._sock
        assert sock is not None
        try:
            while not self._closed.is_set():
                header = _recv_exact(sock, 2)
                message = _recv_exact(sock, int.from_bytes(header, "big"))
                reply = self._handle(message)
                if reply is not None:
                    sock.sendall(len(reply).to_bytes(2, "big") + reply)
        except (OSError, EOFError):
            pass  # vpcd closed the connection or we removed the card

    def _handle(self, message: bytes) -> bytes | None:
        if len(message) == 1:
            control = message[0]
            if control == GET_ATR:
                self.controls.get_atr += 1
                return self.card.atr
            if control == POWER_OFF:
                self.controls.power_off += 1
            elif control == POWER_ON:
                self.controls.power_on += 1
            elif control == RESET:
                self.controls.reset += 1
            return None
        return self.card.answer(message)

    def __enter__(self) -> InsertedCard:
        return self.insert() if self._sock is None else self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data
