"""Which broker the next connection attempt goes to, when ``mqtt.servers`` names several.

A station knows a list of equivalent servers (the nodes of one clustered broker). It connects to the
first that answers and, when that connection is lost or an attempt fails, moves on to the next one.
Trying the next node of a cluster at once is what makes failover quick; waiting a full backoff delay
makes sense only once every node has failed in turn, so the backoff grows per round of the list, never
per server (with one server, as before, per attempt).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from passerelle.daemon.backoff import Backoff

# host, [v6 address] or v6 address without port; then an optional :port
_BRACKETED = re.compile(r"^\[(?P<host>[^\[\]]+)\](?::(?P<port>[0-9]{1,5}))?$")
_PLAIN = re.compile(r"^(?P<host>[^:\[\]\s/]+)(?::(?P<port>[0-9]{1,5}))?$")


@dataclass(frozen=True, slots=True)
class Server:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_server(text: str, default_port: int) -> Server:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; ValueError says what is wrong, without echoing
    more than the entry itself (a server address is not a secret)."""
    entry = text.strip()
    match = _BRACKETED.match(entry) or _PLAIN.match(entry)
    if match is None:
        raise ValueError(f"{entry!r} is not host:port (write an IPv6 address as [::1]:1883)")
    port = int(match["port"]) if match["port"] else default_port
    if not 1 <= port <= 65535:
        raise ValueError(f"{entry!r}: port must be 1-65535")
    return Server(match["host"].lower(), port)


def parse_servers(entries: list[str], default_port: int) -> list[Server]:
    """The list in order; an empty list or the same server twice (after defaulting the port) is an
    error, because a rotation over a repeated node is slower failover in disguise."""
    if not entries:
        raise ValueError("must name at least one server (or leave it unset to use host and port)")
    servers: list[Server] = []
    for entry in entries:
        server = parse_server(entry, default_port)
        if server in servers:
            raise ValueError(f"{server} is listed twice")
        servers.append(server)
    return servers


# CONNACK refusals that mean "these credentials", in MQTT 5 and 3.1.1 wording (paho's texts).
SESSION_TAKEN_OVER = 0x8E  # MQTT 5 DISCONNECT reason code
TAKEOVER_SUSPECTED_AFTER = 3  # accepted sessions closed by the broker soon after, in a row
_CREDENTIAL_REFUSALS = ("Bad user name or password", "Not authorized", "not authorised", "bad username")


def explain_failure(
    error: str, disconnect_reason: object = None, client_id: str = "", closed_soon_in_a_row: int = 0
) -> str:
    """The failure as the broker said it, plus what to check when the cause is known.

    ``disconnect_reason`` is paho's reason for the last disconnection: aiomqtt's own error drops the
    reason code of a DISCONNECT the broker sent (MQTT 5), e.g. "Session taken over" when another client
    connected with our client id."""
    value = getattr(disconnect_reason, "value", None)
    if value == SESSION_TAKEN_OVER:
        return (
            f"{error}: session taken over: another client connected with this station's client id "
            f"{client_id!r}; give every consumer and every station its own client id and credentials"
        )
    if getattr(disconnect_reason, "is_failure", False) and str(disconnect_reason) not in error:
        error = f"{error}: {disconnect_reason}"
    if closed_soon_in_a_row >= TAKEOVER_SUSPECTED_AFTER:
        # Brokers that close a taken-over session without saying so (Mosquitto 2.0) look like this.
        return (
            f"{error}; the broker closed {closed_soon_in_a_row} sessions in a row soon after accepting "
            f"them: another client may be connected with this station's client id {client_id!r} "
            "(give every consumer its own client id), or the broker keeps restarting"
        )
    if any(words.lower() in error.lower() for words in _CREDENTIAL_REFUSALS):
        return (
            f"{error} (the broker refused this station's credentials: check mqtt.username and its password)"
        )
    return error


class ServerRotation:
    """The server in use, the order of the next ones, and why each failed since the last connection."""

    def __init__(self, servers: list[Server]) -> None:
        if not servers:
            raise ValueError("no server to connect to")
        self.servers = list(servers)
        self._index = 0
        self._failures: dict[Server, str] = {}  # since the last accepted connection
        self._round: set[Server] = set()  # failed in the current round of the list

    @property
    def current(self) -> Server:
        return self.servers[self._index]

    def connected(self) -> None:
        self._failures.clear()
        self._round.clear()

    def failed(self, error: str) -> str:
        """Record why the current server failed; returns what health and logs should say: that server
        and its reason, or, once every server failed in turn, each of them with its own."""
        self._failures[self.current] = error
        self._round.add(self.current)
        if len(self.servers) > 1 and len(self._failures) == len(self.servers):
            reasons = "; ".join(f"{server}: {why}" for server, why in self._failures.items())
            return f"no server answered ({reasons})"
        return f"{self.current}: {error}"

    def next_attempt_delay(self, backoff: Backoff) -> float:
        """Move on to the next server and say how long to wait first: the backoff's growing delay once
        every server failed in this round (which starts the next round), else its shortest (jittered)
        one, so that a dead node costs little, and a failover back to the first node no more than one
        to the next (a connection since starts a new round)."""
        self._index = (self._index + 1) % len(self.servers)
        if len(self._round) == len(self.servers):
            self._round.clear()
            return backoff.next_delay()
        return random.uniform(backoff.minimum / 2, backoff.minimum)
