"""``occurred_at`` carries the workstation's offset, including across a DST change."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from passerelle.daemon import events


@pytest.fixture
def paris(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def stamps(*moments: datetime) -> list[str]:
    """``now()`` read at each moment in turn, through one cache, as the daemon reads it."""
    clock = iter(m.timestamp() for m in moments)
    local = events._LocalOffset(lambda: next(clock))  # noqa: SLF001 - the offset cache, with its clock injected
    return [local.now().isoformat() for _ in moments]


@pytest.mark.usefixtures("paris")
def test_offset_follows_the_spring_and_autumn_changes() -> None:
    # 2026-03-29 01:00 UTC: Paris goes from +01:00 to +02:00; 2026-10-25 01:00 UTC: back to +01:00.
    # The offset is cached within a minute: the second just before each change primes the cache.
    spring = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    autumn = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    second = timedelta(seconds=1)
    assert stamps(spring - second, spring, autumn - second, autumn) == [
        "2026-03-29T01:59:59+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-10-25T02:59:59+02:00",
        "2026-10-25T02:00:00+01:00",
    ]


@pytest.mark.usefixtures("paris")
def test_the_same_instant_and_offset_as_the_system_clock() -> None:
    before = datetime.now(UTC)
    stamp = events._LocalOffset().now()  # noqa: SLF001 - the cache alone, not the module's instance
    assert stamp.utcoffset() == stamp.astimezone().utcoffset()
    assert before <= stamp <= datetime.now(UTC)
