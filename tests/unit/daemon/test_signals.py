"""The signal that connects the daemon's services: a listener's failure costs only that listener."""

from __future__ import annotations

import logging

import pytest

from passerelle.daemon.signals import Signal


def test_listeners_get_the_emitted_values_in_connection_order() -> None:
    signal: Signal[[str, bytes]] = Signal("retained.topic_changed")
    calls: list[tuple[str, str, bytes]] = []
    signal.connect(lambda topic, payload: calls.append(("first", topic, payload)))
    signal.connect(lambda topic, payload: calls.append(("second", topic, payload)))
    signal.emit("a/b", b"x")
    assert calls == [("first", "a/b", b"x"), ("second", "a/b", b"x")]
    assert len(signal) == 2


def test_a_listener_connected_twice_is_called_twice() -> None:
    signal: Signal[[]] = Signal("s")
    calls: list[None] = []

    def listener() -> None:
        calls.append(None)

    signal.connect(listener)
    signal.connect(listener)
    signal.emit()
    assert len(calls) == 2


def test_an_emission_without_listeners_does_nothing() -> None:
    signal: Signal[[int]] = Signal("s")
    signal.emit(1)
    assert not signal
    assert signal.failures == 0


def test_a_failing_listener_is_logged_with_its_cause_counted_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal: Signal[[bool]] = Signal("outbox.full_changed")
    after: list[bool] = []

    def broken(full: bool) -> None:
        raise KeyError("no such topic")

    signal.connect(broken)
    signal.connect(after.append)
    with caplog.at_level(logging.ERROR, logger="passerelle.daemon.signals"):
        signal.emit(True)  # does not raise into the emitter
    assert after == [True]  # the next listener still ran
    assert signal.failures == 1
    [record] = caplog.records
    assert "broken" in record.getMessage() and "outbox.full_changed" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], KeyError)


def test_a_listener_failing_at_every_event_is_counted_each_time_but_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal: Signal[[int]] = Signal("publisher.published")

    def broken(_: int) -> None:
        raise ValueError("bug")

    signal.connect(broken)
    with caplog.at_level(logging.ERROR, logger="passerelle.daemon.signals"):
        for n in range(1000):
            signal.emit(n)
    assert signal.failures == 1000
    assert len(caplog.records) == 1  # the journal is not flooded at the event rate


def test_two_failing_listeners_are_each_logged(caplog: pytest.LogCaptureFixture) -> None:
    signal: Signal[[]] = Signal("s")

    def first() -> None:
        raise RuntimeError("one")

    def second() -> None:
        raise RuntimeError("two")

    signal.connect(first)
    signal.connect(second)
    with caplog.at_level(logging.ERROR, logger="passerelle.daemon.signals"):
        signal.emit()
    assert signal.failures == 2
    assert [str(r.exc_info[1]) for r in caplog.records if r.exc_info] == ["one", "two"]


def test_what_is_not_an_exception_still_ends_the_emission() -> None:
    """KeyboardInterrupt or SystemExit in a listener are not bugs to log: they stop the daemon."""
    signal: Signal[[]] = Signal("s")

    def interrupted() -> None:
        raise KeyboardInterrupt

    signal.connect(interrupted)
    with pytest.raises(KeyboardInterrupt):
        signal.emit()
    assert signal.failures == 0
