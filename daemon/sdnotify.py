"""systemd notification protocol without libsystemd: one datagram of ``KEY=value`` lines to the
socket in ``$NOTIFY_SOCKET``. Outside systemd (no variable) every call is a no-op.

The socket is non-blocking: the calls run on the event loop, and a datagram socket whose reader is
stuck (a hung or restarting manager, a stale NOTIFY_SOCKET) accepts only a few unread datagrams
(net.unix.max_dgram_qlen, 10 by default) before a blocking send would freeze the whole daemon. A
notification that cannot go at once is dropped, counted and logged: the next status or watchdog ping
says the same thing again.
"""

from __future__ import annotations

import logging
import os
import socket

from passerelle.daemon.log_limit import RateLimitedLog

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        # A leading "@" names an abstract socket: its first byte is NUL.
        self.address = ("\0" + address[1:]) if address and address.startswith("@") else address
        self._sock: socket.socket | None = None
        self._log = RateLimitedLog(log)
        self.dropped = 0  # notifications that could not be sent
        if self.address:
            self._sock = socket.socket(
                socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
            )

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, **fields: str | int) -> bool:
        if self._sock is None or not self.address:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items())
        try:
            self._sock.sendto(message.encode(), self.address)
        except OSError as exc:  # never fatal, never waited for: systemd may be restarting or stuck
            self.dropped += 1
            self._log.log(
                logging.WARNING,
                type(exc).__name__,
                "sd_notify message dropped (%d so far): %s",
                self.dropped,
                "the manager does not read its socket" if isinstance(exc, BlockingIOError) else exc,
            )
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send(READY=1, STATUS=status)

    def status(self, status: str) -> bool:
        return self.send(STATUS=status)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def stopping(self, status: str = "stopping") -> bool:
        return self.send(STOPPING=1, STATUS=status)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval() -> float | None:
    """Half the systemd watchdog timeout, when the watchdog is for this process."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 2_000_000
