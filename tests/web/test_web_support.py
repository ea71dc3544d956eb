"""The log ring behind the console's support bundle (and the `support-bundle` request): a NIR-shaped
number never leaves the daemon, even if a log line had one by mistake, and only the last records stay."""

from __future__ import annotations

import logging

from passerelle.daemon.log_ring import LogRing


def test_nir_shapes_are_masked_and_the_ring_is_bounded() -> None:
    ring = LogRing(capacity=3)
    logger = logging.getLogger("test.web.support")
    logger.addHandler(ring)
    logger.propagate = False
    try:
        logger.warning("card read for 1 85 05 78 006 084 36 on reader 2")
        logger.warning("card read for 185057800608436")
        first, second = (r["message"] for r in ring.snapshot())
        assert "006 084" not in first and "reader 2" in first  # short numbers stay
        assert "185057800608436" not in second
        for n in range(3):
            logger.warning("line %d", n)
    finally:
        logger.removeHandler(ring)
    assert [r["message"] for r in ring.snapshot()] == ["line 0", "line 1", "line 2"]
