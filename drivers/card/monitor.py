"""The PC/SC watcher thread.

One thread owns one context and loops SCardGetStatusChange over every reader plus the PnP pseudo
reader, feeding back the last event state so that the call blocks until something changes. The upper
16 bits of a reader's event state count insertions and removals: comparing them catches a card pulled
and put back between two calls. When pcscd goes away (restart, auto-exit, not started yet at boot),
everything is reported gone and a new context is tried with backoff; readers are announced again when
it answers. Stop cancels the pending call on the same context.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from passerelle.drivers.card.pcsc_api import (
    E_CANCELLED,
    E_TIMEOUT,
    E_UNKNOWN_READER,
    PNP_READER,
    S_SUCCESS,
    STATE_CHANGED,
    STATE_UNAWARE,
    STATE_UNKNOWN,
    PcscApi,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServiceUp:
    pass


@dataclass(frozen=True, slots=True)
class ServiceDown:
    reason: str


@dataclass(frozen=True, slots=True)
class ReaderAdded:
    name: str


@dataclass(frozen=True, slots=True)
class ReaderRemoved:
    name: str


@dataclass(frozen=True, slots=True)
class SlotStatus:
    name: str
    flags: int  # SCARD_STATE_* (low 16 bits)
    atr: bytes
    card_events: int  # insertions + removals since the previous status of this reader (0 the first time)


Observation = ServiceUp | ServiceDown | ReaderAdded | ReaderRemoved | SlotStatus


STABLE_AFTER_S = 10.0  # a context that lasted this long resets the backoff


class _ServiceLostError(Exception):
    pass


class PcscMonitor:
    def __init__(
        self,
        api: PcscApi,
        emit: Callable[[Observation], None],
        *,
        wait_ms: int = 2000,
        backoff_initial: float = 0.2,
        backoff_max: float = 5.0,
    ) -> None:
        self._api = api
        self._emit = emit
        self._wait_ms = wait_ms
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._context: int | None = None
        self._thread: threading.Thread | None = None
        self.contexts_established = 0  # for tests and health: how many times pcscd was (re)joined

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pcsc-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        thread = self._thread
        if thread is None:
            return
        # A cancel sent between two waits is lost: repeat until the thread notices the stop flag.
        while thread.is_alive() and timeout > 0:
            with self._lock:
                if self._context is not None:
                    # E_INVALID_HANDLE when racing a timeout: harmless
                    with contextlib.suppress(Exception):
                        self._api.cancel(self._context)
            thread.join(0.05)
            timeout -= 0.05

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        delay = self._backoff_initial
        service_up = False
        while not self._stopping.is_set():
            try:
                context = self._api.establish()
            except Exception as exc:
                if service_up:
                    service_up = False
                    self._emit(ServiceDown(str(exc)))
                log.debug("no PC/SC service (%s); retry in %.1f s", exc, delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, self._backoff_max)
                continue
            with self._lock:
                self._context = context
            self.contexts_established += 1
            joined = time.monotonic()
            try:
                service_up = True
                self._emit(ServiceUp())
                self._watch(context)
            except _ServiceLostError as exc:
                log.warning("PC/SC service lost: %s", exc)
                service_up = False
                self._emit(ServiceDown(str(exc)))
                if time.monotonic() - joined < STABLE_AFTER_S:
                    # Lost again right after joining (e.g. pcscd refuses us): back off, do not spin.
                    self._stopping.wait(delay)
                    delay = min(delay * 2, self._backoff_max)
                else:
                    delay = self._backoff_initial
            finally:
                with self._lock:
                    self._context = None
                with contextlib.suppress(Exception):
                    self._api.release(context)

    def _watch(self, context: int) -> None:
        known: dict[str, int] = {}
        pnp_state = STATE_UNAWARE
        self._relist(context, known)
        while not self._stopping.is_set():
            states = [(name, state) for name, state in known.items()]
            states.append((PNP_READER, pnp_state))
            try:
                rc, new_states = self._api.get_status_change(context, self._wait_ms, states)
            except Exception as exc:
                raise _ServiceLostError(f"SCardGetStatusChange raised {exc}") from exc
            if rc in (E_TIMEOUT, E_CANCELLED):
                continue
            if rc == E_UNKNOWN_READER:
                self._relist(context, known)
                continue
            if rc != S_SUCCESS:
                raise _ServiceLostError(f"SCardGetStatusChange: 0x{rc:08X}")
            relist = False
            for status in new_states:
                if status.name == PNP_READER:
                    if status.event_state & STATE_CHANGED:
                        relist = True
                    pnp_state = status.event_state & ~STATE_CHANGED
                    continue
                if status.name not in known or not status.event_state & STATE_CHANGED:
                    continue
                if status.event_state & STATE_UNKNOWN:
                    relist = True
                    continue
                previous = known[status.name]
                known[status.name] = status.event_state & ~STATE_CHANGED
                card_events = 0
                if previous != STATE_UNAWARE:
                    card_events = ((status.event_state >> 16) - (previous >> 16)) & 0xFFFF
                self._emit(SlotStatus(status.name, status.event_state & 0xFFFF, status.atr, card_events))
            if relist:
                self._relist(context, known)

    def _relist(self, context: int, known: dict[str, int]) -> None:
        try:
            readers = self._api.list_readers(context)
        except Exception as exc:  # any failure to list means the context is not usable
            raise _ServiceLostError(str(exc)) from exc
        for name in [n for n in known if n not in readers]:
            del known[name]
            self._emit(ReaderRemoved(name))
        for name in readers:
            if name not in known:
                known[name] = STATE_UNAWARE
                self._emit(ReaderAdded(name))
