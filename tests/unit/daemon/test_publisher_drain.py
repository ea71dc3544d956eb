"""The drain and its flow control, against the in-memory broker and a real outbox: no broker process."""

from __future__ import annotations

from pathlib import Path

from passerelle.daemon.session import DisconnectReason
from passerelle.testing.memory_session import (
    PACKET_TOO_LARGE,
    RECEIVE_MAXIMUM_EXCEEDED,
    MemoryBroker,
)
from passerelle.testing.support import wait_until

from .publisher_support import EVENTS_TOPIC, Station, payloads, station

TAKEN_OVER = DisconnectReason(0x8E, "Session taken over")


async def test_the_window_is_never_exceeded_and_acknowledgements_keep_the_outbox_order(
    tmp_path: Path,
) -> None:
    broker = MemoryBroker(ack_delay=None)  # PUBACKs only when the test sends them
    async with station(tmp_path, broker, max_inflight=7) as s:
        await s.submit(*payloads(40))
        await wait_until(lambda: s.publisher.stats.inflight_peak == 7, 5, "a full window")
        for _ in range(11):
            assert broker.acknowledge(3) == 3
            await wait_until(lambda: broker.current.pending == min(7, s.outbox.count), 5, "a refill")
        broker.ack_delay = 0.0
        broker.acknowledge()
        await wait_until(lambda: s.outbox.count == 0, 5, "an empty outbox")
        assert broker.inflight_peak == 7
        assert s.publisher.stats.inflight_peak == 7
        assert s.events() == payloads(40)  # oldest first, each once
        assert s.publisher.stats.published_total == 40


async def test_a_broker_receive_maximum_lowers_the_window(tmp_path: Path) -> None:
    broker = MemoryBroker(receive_maximum=5, ack_delay=0.001)
    async with station(tmp_path, broker, max_inflight=100) as s:
        await s.submit(*payloads(200))
        await wait_until(lambda: s.outbox.count == 0, 10, "an empty outbox")
        assert s.publisher.stats.broker_receive_maximum == 5
        assert broker.inflight_peak == 5  # the birth and the events together, never beyond
        assert all(session.disconnect_reason != RECEIVE_MAXIMUM_EXCEEDED for session in broker.sessions)
        assert len(broker.sessions) == 1
        assert s.events() == payloads(200)


async def ten_sent_four_acknowledged(s: Station) -> None:
    await s.submit(*payloads(10))
    await wait_until(lambda: s.broker.current.pending == 10, 5, "ten publishes in flight")
    assert s.outbox.count == 10  # sent, not acknowledged: all still stored
    s.broker.acknowledge(4)
    await wait_until(lambda: s.publisher.stats.published_total == 4, 5, "four acknowledged")


async def test_nothing_leaves_the_outbox_before_its_acknowledgement(tmp_path: Path) -> None:
    async with station(tmp_path, MemoryBroker(ack_delay=None), max_inflight=10) as s:
        await ten_sent_four_acknowledged(s)
        assert s.outbox.count == 6
        assert s.events() == payloads(4)


async def test_events_in_flight_when_the_connection_drops_are_sent_again(tmp_path: Path) -> None:
    broker = MemoryBroker(ack_delay=None)
    async with station(tmp_path, broker, max_inflight=10) as s:
        await ten_sent_four_acknowledged(s)
        broker.ack_delay = 0.0
        broker.drop(TAKEN_OVER)  # the PUBACKs of the six others are lost with the connection
        await wait_until(lambda: s.outbox.count == 0, 5, "an empty outbox")
        assert s.publisher.stats.connects_total == 2
        assert s.events()[:4] == payloads(4)
        assert sorted(s.events()[4:]) == sorted(payloads(6, start=4))  # the six, once more each
        assert "session taken over" in (s.publisher.stats.last_error or "")  # the broker's reason, kept


async def test_an_event_beyond_the_maximum_packet_size_is_set_aside_unsent(tmp_path: Path) -> None:
    broker = MemoryBroker(maximum_packet_size=256)
    async with station(tmp_path, broker) as s:
        small, large = payloads(3), b'{"blob": "' + b"x" * 400 + b'"}'
        await s.submit(small[0], large, *small[1:])
        await wait_until(lambda: s.outbox.count == 0, 5, "an empty outbox")
        assert s.events() == small
        assert s.quarantine.count == 1
        assert "Maximum Packet Size (256)" in (s.quarantine.last_reason or "")
        assert all(session.disconnect_reason != PACKET_TOO_LARGE for session in broker.sessions)
        assert len(broker.sessions) == 1  # never sent, so the connection never dropped


async def test_an_event_the_broker_refuses_is_set_aside_and_the_rest_flows(tmp_path: Path) -> None:
    refused = b'{"refused": true}'
    broker = MemoryBroker(refuse=lambda _topic, payload: "Not authorized" if payload == refused else None)
    async with station(tmp_path, broker, quarantine_after=2) as s:
        await s.submit(*payloads(5), refused, *payloads(5, start=5))
        await wait_until(lambda: s.outbox.count == 0, 10, "an empty outbox")
        assert set(s.events()) == set(payloads(10))
        assert refused not in s.events()
        assert s.quarantine.count == 1
        assert "Not authorized" in (s.quarantine.last_reason or "")
        assert s.publisher.stats.failed_total >= 2  # one refusal per try
        assert len(broker.sessions) >= 2  # a refusal ends the session; the row goes again in the next


async def test_a_wildcard_topic_is_set_aside_without_ending_the_session(tmp_path: Path) -> None:
    broker = MemoryBroker()
    async with station(tmp_path, broker) as s:
        await s.submit(b"{}", topic=f"{EVENTS_TOPIC}/+")
        await s.submit(*payloads(2))
        await wait_until(lambda: s.outbox.count == 0, 5, "an empty outbox")
        assert s.events() == payloads(2)
        assert s.quarantine.count == 1
        assert len(broker.sessions) == 1
