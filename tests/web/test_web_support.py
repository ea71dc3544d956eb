"""The support bundle's log lines: a NIR-shaped number never leaves the daemon, even if a log line had
one by mistake, and only the last lines are kept."""

from __future__ import annotations

import logging

from daemon.web.support import LogRing


def test_long_digit_runs_are_masked_and_the_ring_is_bounded() -> None:
    ring = LogRing(capacity=3)
    logger = logging.getLogger("test.web.support")
    logger.addHandler(ring)
    logger.propagate = False
    try:
        logger.warning("card read for 1 85 05 78 006 084 36 on reader 2")
        logger.warning("card read for 185057800608436")
        assert "[masked]" in ring.lines[0] and "006 084" not in ring.lines[0]
        assert "185057800608436" not in ring.lines[1]
        assert "reader 2" in ring.lines[0]  # short numbers stay
        for n in range(3):
            logger.warning("line %d", n)
    finally:
        logger.removeHandler(ring)
    assert [line.rsplit('"message": ', 1)[1] for line in ring.lines] == [
        '"line 0"}',
        '"line 1"}',
        '"line 2"}',
    ]
