"""Log lines that a remote party can trigger at will (a hostile request every few milliseconds) go
through here, so that such a party can neither flood the journal nor hide one cause behind another."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_INTERVAL_SECONDS = 60.0


@dataclass(slots=True)
class _KeyState:
    last_logged: float
    held_back: int = 0


class RateLimitedLog:
    """At most one line per key (a bounded cause, such as an error code) and interval.

    The first occurrence of a cause is always logged, so every failure shows in the logs with its
    real cause; the next line logged for that key says how many were held back in between.
    """

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._keys: dict[str, _KeyState] = {}

    def log(
        self, level: int, key: str, message: str, *args: object, exc_info: BaseException | None = None
    ) -> bool:
        """Log unless ``key`` was logged less than the interval ago; True when the line was written."""
        now = self._clock()
        state = self._keys.get(key)
        if state is not None and now - state.last_logged < self._interval:
            state.held_back += 1
            return False
        if state is not None and state.held_back:
            message += " (%d more like this held back in the last %.0f s)"
            args = (*args, state.held_back, now - state.last_logged)
        self._keys[key] = _KeyState(last_logged=now)
        self._logger.log(level, message, *args, exc_info=exc_info)
        return True
