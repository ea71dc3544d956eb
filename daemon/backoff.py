"""Capped exponential backoff with jitter, shared by the publisher's reconnections and the supervisor's
driver restarts."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, minimum: float, maximum: float) -> None:
        self.minimum, self.maximum = minimum, max(minimum, maximum)
        self.attempt = 0  # delays handed out since the last reset

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.minimum * (2**self.attempt))
        self.attempt += 1
        return random.uniform(ceiling / 2, ceiling)  # "equal jitter": never zero, never in lockstep

    def reset(self) -> None:
        self.attempt = 0
