"""Retained topics (bridge state, info, inventory, availability, device state): latest value wins.

Kept in memory and re-derived at start (drivers re-announce what they see), so they need no disk. The
publisher sends each change once, and everything again after every reconnect, because a broker without
persistence forgets retained messages when it restarts.
"""

from __future__ import annotations

import asyncio

from passerelle.daemon.signals import Signal


class RetainedStore:
    def __init__(self) -> None:
        self._values: dict[str, bytes] = {}
        self._dirty: dict[str, bytes] = {}
        self.changed = asyncio.Event()
        # Every change (topic, payload; b"" when cleared): the browser fan-out.
        self.topic_changed: Signal[[str, bytes]] = Signal("retained.topic_changed")

    def set(self, topic: str, payload: bytes) -> None:
        if self._values.get(topic) == payload:
            return
        self._values[topic] = payload
        self._dirty[topic] = payload
        self.changed.set()
        self.topic_changed.emit(topic, payload)

    def clear(self, topic: str) -> None:
        """Remove a retained topic from the broker (an empty retained payload deletes it)."""
        if self._values.pop(topic, None) is not None:
            self._dirty[topic] = b""
            self.changed.set()
            self.topic_changed.emit(topic, b"")

    def get(self, topic: str) -> bytes | None:
        return self._values.get(topic)

    def snapshot(self) -> dict[str, bytes]:
        return dict(self._values)

    def take_dirty(self) -> dict[str, bytes]:
        dirty, self._dirty = self._dirty, {}
        self.changed.clear()
        return dirty

    def mark_all_dirty(self) -> None:
        self._dirty = dict(self._values)
        if self._dirty:
            self.changed.set()

    def restore_dirty(self, items: dict[str, bytes]) -> None:
        """Put back changes whose publication failed (newer values win)."""
        for topic, payload in items.items():
            self._dirty.setdefault(topic, payload)
        if self._dirty:
            self.changed.set()
