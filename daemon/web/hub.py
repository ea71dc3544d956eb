"""Fan-out to browser clients: one bounded queue and one writer per client, frames built once.

A client that does not read fills its queue and is closed with 1013 (try again later); nothing else
waits for it, and the daemon never holds more than ``client_queue`` frames for it.

Replay (``since=``) and live traffic meet without a gap or a repeat: the client is registered for live
frames before the journal is read, live events that arrive meanwhile are held aside, and once the
journal is exhausted only those numbered after the last replayed row are passed on.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from dataclasses import dataclass, field
from typing import Protocol

from passerelle.daemon.outbox import OutboxRow

log = logging.getLogger(__name__)

TRY_AGAIN_LATER = 1013


class Sender(Protocol):
    async def send(self, message: bytes, *, text: bool) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


def frame(topic: str, payload: bytes) -> bytes:
    """``{"topic", "payload"}`` with the payload exactly as published on MQTT (empty: null), as UTF-8
    built once for every client (sent as a text frame without being decoded and encoded again)."""
    return b'{"topic":' + json.dumps(topic).encode() + b',"payload":' + (payload or b"null") + b"}"


@dataclass
class HubStats:
    connections_total: int = 0
    closed_slow_total: int = 0
    frames_total: int = 0


@dataclass(eq=False)
class Client:
    sender: Sender
    bound: int
    stats: HubStats
    queue: collections.deque[bytes] = field(default_factory=collections.deque)
    replaying: bool = False
    held: list[tuple[int, bytes]] = field(default_factory=list)  # live events that came during replay
    closed: bool = False
    requests: int = 0  # requests of this client still being answered
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    room: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, text: bytes, seq: int | None = None) -> None:
        """A live frame; ``seq`` is the journal position of an event (None for state and answers)."""
        if self.closed:
            return
        if self.replaying and seq is not None:
            self.held.append((seq, text))
            if len(self.held) > self.bound:
                self.overflow()
            return
        if len(self.queue) >= self.bound:
            self.overflow()
            return
        self.queue.append(text)
        self.wakeup.set()

    def end_replay(self, last_seq: int) -> None:
        held, self.held = self.held, []
        self.replaying = False
        for seq, text in held:
            if seq > last_seq:
                self.offer(text)

    async def put_replayed(self, text: bytes) -> None:
        """A replayed frame: waits for room instead of overflowing (the reader paces the replay)."""
        while len(self.queue) >= self.bound // 2 and not self.closed:
            self.room.clear()
            await self.room.wait()
        if not self.closed:
            self.queue.append(text)
            self.wakeup.set()

    def overflow(self) -> None:
        self.closed = True
        self.queue.clear()
        self.held.clear()
        self.stats.closed_slow_total += 1
        log.warning("web client too slow (%d frames queued): closing it with 1013", self.bound)
        self.wakeup.set()
        self.room.set()

    async def write_loop(self) -> None:
        """Send queued frames in order; on overflow, close with 1013."""
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.queue and not self.closed:
                text = self.queue.popleft()
                self.room.set()
                await self.sender.send(text, text=True)
                self.stats.frames_total += 1
            if self.closed:
                await self.sender.close(TRY_AGAIN_LATER, "client too slow: queue full")
                return


class Hub:
    def __init__(self, base_topic: str) -> None:
        self._prefix = base_topic + "/"
        self.clients: set[Client] = set()
        self.stats = HubStats()

    def relative(self, topic: str) -> str:
        return topic[len(self._prefix) :] if topic.startswith(self._prefix) else topic

    def full(self, relative: str) -> str:
        return self._prefix + relative

    def on_committed(self, rows: list[OutboxRow]) -> None:
        """Called by the outbox after each commit. Never raises into the outbox."""
        if not self.clients:
            return
        try:
            for row in rows:
                text = frame(self.relative(row.topic), row.payload)
                for client in self.clients:
                    client.offer(text, row.seq)
        except Exception:
            log.exception("browser fan-out failed for one commit")

    def on_retained(self, topic: str, payload: bytes) -> None:
        if not self.clients:
            return
        try:
            text = frame(self.relative(topic), payload)
            for client in self.clients:
                client.offer(text)
        except Exception:
            log.exception("browser fan-out failed for a retained topic")
