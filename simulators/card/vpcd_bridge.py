"""Runs inside the isolated pcscd's private network namespace and lets the virtual cards reach vpcd.

vpcd listens on every interface (its code binds INADDR_ANY), so in the machine's own namespace anyone
on the network could insert a card into the demo's reader. The isolated pcscd therefore runs in a
network namespace of its own, whose only interface is loopback; this bridge, started in the same
namespace, accepts the cards on Unix sockets in the pcscd's directory (reachable only through the
filesystem) and relays each one to vpcd over that loopback. One card connection is one vpcd
connection: closing either end closes the other, which is how a card is removed.

Usage: python -m passerelle.simulators.card.vpcd_bridge <socket directory> <port> [<port> ...]
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
CONNECT_DEADLINE_SECONDS = 5.0  # vpcd may still be starting when a card comes
# vpcd port → the bridge socket that reaches it, for each isolated pcscd started by this process.
BRIDGED_PORTS: dict[int, Path] = {}


def bridge_socket(directory: Path, port: int) -> Path:
    return directory / f"vpcd-{port}.sock"


def bring_loopback_up() -> None:
    """A new network namespace has its loopback down; vpcd is reached over it."""
    with socket.socket() as control:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(control, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(control, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass  # the other side went away: the relay ends either way
    finally:
        writer.close()


async def _connect_vpcd(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    deadline = asyncio.get_running_loop().time() + CONNECT_DEADLINE_SECONDS
    while True:
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


def _relay(port: int) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def card_connected(card_in: asyncio.StreamReader, card_out: asyncio.StreamWriter) -> None:
        try:
            vpcd_in, vpcd_out = await _connect_vpcd(port)
        except OSError:
            card_out.close()  # no reader: the card is refused, as a failed connect would be
            return
        await asyncio.gather(_pump(card_in, vpcd_out), _pump(vpcd_in, card_out))

    return card_connected


async def serve(directory: Path, ports: list[int]) -> None:
    servers = []
    for port in ports:
        path = bridge_socket(directory, port)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        servers.append(await asyncio.start_unix_server(_relay(port), path=str(path)))
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main(argv: list[str]) -> None:
    bring_loopback_up()
    asyncio.run(serve(Path(argv[0]), [int(port) for port in argv[1:]]))


if __name__ == "__main__":
    main(sys.argv[1:])
