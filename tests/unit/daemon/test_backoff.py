"""Capped exponential backoff: delays grow to the maximum and stay there, however long it lasts."""

from __future__ import annotations

from passerelle.daemon.backoff import Backoff


def test_delays_double_with_jitter_up_to_the_maximum() -> None:
    backoff = Backoff(1.0, 60.0)
    ceilings = [1, 2, 4, 8, 16, 32, 60, 60]
    for ceiling in ceilings:
        assert ceiling / 2 <= backoff.next_delay() <= ceiling
    assert backoff.attempt == len(ceilings)


def test_a_day_of_failures_keeps_the_maximum_delay() -> None:
    """The 1024th doubling used to raise OverflowError (2**1024 is no float): a broker away for a
    night, a driver failing at start all day, a disk full over a weekend."""
    backoff = Backoff(1.0, 60.0)
    delays = [backoff.next_delay() for _ in range(5000)]
    assert all(30.0 <= delay <= 60.0 for delay in delays[10:])
    assert backoff.attempt == 5000  # still counted: the logs say how many attempts failed


def test_reset_starts_again_from_the_minimum() -> None:
    backoff = Backoff(0.5, 10.0)
    for _ in range(2000):
        backoff.next_delay()
    backoff.reset()
    assert backoff.attempt == 0
    assert 0.25 <= backoff.next_delay() <= 0.5


def test_a_maximum_below_the_minimum_is_the_minimum() -> None:
    backoff = Backoff(5.0, 1.0)
    assert all(2.5 <= backoff.next_delay() <= 5.0 for _ in range(100))
