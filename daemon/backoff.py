"""Capped exponential backoff with jitter, shared by the publisher's reconnections, the supervisor's
driver restarts and the device loop's reopen attempts."""

from __future__ import annotations

import random

# Doublings past this change nothing (2**60 times any minimum is past any maximum), and 2**1024 is more
# than a float holds: without the cap, the 1024th consecutive delay raised OverflowError (a driver failing
# at start, a broker away or a disk refusing writes for some hours).
MAX_DOUBLINGS = 60


class Backoff:
    def __init__(self, minimum: float, maximum: float, *, jitter: bool = True) -> None:
        self.minimum, self.maximum = minimum, max(minimum, maximum)
        self.jitter = jitter  # False: the ceiling itself (a fixed retry period when minimum == maximum)
        self.attempt = 0  # delays handed out since the last reset

    @classmethod
    def fixed(cls, period: float) -> Backoff:
        """The same delay every time, e.g. a scanner's configured reopen interval."""
        return cls(period, period, jitter=False)

    def next_delay(self) -> float:
        ceiling: float = min(self.maximum, self.minimum * (2 ** min(self.attempt, MAX_DOUBLINGS)))
        self.attempt += 1
        if not self.jitter:
            return ceiling
        return random.uniform(ceiling / 2, ceiling)  # "equal jitter": never zero, never in lockstep

    def reset(self) -> None:
        self.attempt = 0
