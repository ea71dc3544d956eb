"""The rate-limited log: the first line of each cause always, then at most one per interval, saying
how many were held back."""

from __future__ import annotations

import logging

import pytest

from passerelle.daemon.log_limit import RateLimitedLog


def test_one_line_per_cause_and_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limited = RateLimitedLog(logging.getLogger("test.limit"), interval=60.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="test.limit"):
        assert limited.log(logging.WARNING, "a", "cause a: %s", 1)
        assert limited.log(logging.WARNING, "b", "cause b")  # another cause is not hidden by the first
        now[0] = 30.0
        assert not limited.log(logging.WARNING, "a", "cause a: %s", 2)
        assert not limited.log(logging.WARNING, "a", "cause a: %s", 3)
        now[0] = 61.0
        assert limited.log(logging.WARNING, "a", "cause a: %s", 4)
    assert [r.getMessage() for r in caplog.records] == [
        "cause a: 1",
        "cause b",
        "cause a: 4 (2 more like this held back in the last 61 s)",
    ]
