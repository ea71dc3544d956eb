"""A double of the PC/SC calls for reader hot-plug only: vpcd's readers are static, so plugging and
unplugging a reader cannot be done with the real pcscd in a test. A reader may be plugged with a card
already in it (that is what a reader unplugged with its card looks like); cards never move here."""

from __future__ import annotations

import threading
import time

from passerelle.drivers.card.pcsc_api import (
    E_CANCELLED,
    E_TIMEOUT,
    PNP_READER,
    S_SUCCESS,
    STATE_CHANGED,
    STATE_EMPTY,
    STATE_IGNORE,
    STATE_PRESENT,
    STATE_UNKNOWN,
    ReaderStatus,
)


class HotplugPcsc:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers: list[str] = []
        self._cards: dict[str, bytes] = {}
        self._pnp_events = 0
        self._cancelled = False
        self.cancels = 0

    def plug(self, *names: str, card: bytes | None = None) -> None:
        with self._cond:
            self._readers.extend(names)
            if card is not None:
                self._cards.update(dict.fromkeys(names, card))
            self._pnp_events += 1
            self._cond.notify_all()

    def unplug(self, *names: str) -> None:
        with self._cond:
            self._readers = [r for r in self._readers if r not in names]
            for name in names:
                self._cards.pop(name, None)
            self._pnp_events += 1
            self._cond.notify_all()

    def establish(self) -> int:
        return 1

    def release(self, context: int) -> None:
        pass

    def list_readers(self, context: int) -> list[str]:
        with self._cond:
            return list(self._readers)

    def cancel(self, context: int) -> None:
        with self._cond:
            self._cancelled = True
            self.cancels += 1
            self._cond.notify_all()

    def _now(self, name: str) -> int:
        if name == PNP_READER:
            return self._pnp_events << 16
        if name in self._readers:
            return STATE_PRESENT | (1 << 16) if name in self._cards else STATE_EMPTY
        return STATE_UNKNOWN | STATE_IGNORE

    def get_status_change(
        self, context: int, timeout_ms: int, states: list[tuple[str, int]]
    ) -> tuple[int, list[ReaderStatus]]:
        deadline = time.monotonic() + timeout_ms / 1000
        with self._cond:
            while True:
                if self._cancelled:
                    self._cancelled = False
                    return E_CANCELLED, []
                result = []
                changed = False
                for name, current in states:
                    now = self._now(name)
                    differs = now != current & ~STATE_CHANGED
                    changed = changed or differs
                    atr = self._cards.get(name, b"")
                    result.append(ReaderStatus(name, now | (STATE_CHANGED if differs else 0), atr))
                if changed:
                    return S_SUCCESS, result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return E_TIMEOUT, []
                self._cond.wait(remaining)
