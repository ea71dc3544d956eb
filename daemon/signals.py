"""Typed signals: how one part of the daemon tells the others that something changed.

A ``Signal`` belongs to the component that emits it (``outbox.full_changed``, ``retained.topic_changed``,
``supervisor.changed``…), and the composition root (daemon/app.py) connects the listeners, after the
way zigbee2mqtt's extensions hang off one event bus. Why signals owned by their emitter rather than one
daemon-wide bus object: a component stays usable alone (the outbox CLI, the tests of one module, the
bench) without a bus to build, its signals are declared next to the state they announce, and each
signal's type is the listener's signature, checked by mypy (``Signal[[bool]]``, ``Signal[[str, bytes]]``).
Why not the callback attributes they replace (``outbox.on_full = …``): one slot, silently overwritten by
the second user, and a listener's exception went up into the emitter (an outbox commit, a PUBACK).

Emission is synchronous, in connection order, on the emitter's thread (the event loop): the listeners
here are cheap (a retained topic to rebuild, a counter, a browser frame to queue). A listener that
raises is logged with its exception (at most once a minute per listener: the publish signal fires for
every event) and counted in ``failures``; the emitter and the other listeners carry on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, ParamSpec

from passerelle.daemon.log_limit import RateLimitedLog

log = logging.getLogger(__name__)
P = ParamSpec("P")


class Signal(Generic[P]):
    __slots__ = ("_listeners", "_log", "failures", "name")

    def __init__(self, name: str) -> None:
        self.name = name  # for the logs: "outbox.full_changed"
        self._listeners: list[Callable[P, None]] = []
        self._log = RateLimitedLog(log)
        self.failures = 0  # listener calls that raised, over the signal's life

    def connect(self, listener: Callable[P, None]) -> None:
        """Call ``listener`` at every emission from now on (connecting it twice calls it twice)."""
        self._listeners.append(listener)

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for listener in self._listeners:
            try:
                listener(*args, **kwargs)
            except Exception as exc:  # one listener's bug must cost neither the emitter nor the others
                self.failures += 1
                name = getattr(listener, "__qualname__", repr(listener))
                self._log.log(
                    logging.ERROR,
                    name,
                    "listener %s of signal %s failed: %s",
                    name,
                    self.name,
                    exc,
                    exc_info=exc,
                )

    def __len__(self) -> int:
        return len(self._listeners)
