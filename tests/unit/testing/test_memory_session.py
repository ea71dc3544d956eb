"""The in-memory broker enforces what it announces, as a strict broker would: the publisher's tests
that say "never beyond the Receive Maximum" could not fail otherwise."""

from __future__ import annotations

import asyncio

import pytest

from passerelle.daemon.servers import Server
from passerelle.daemon.session import SessionError
from passerelle.testing.memory_session import PACKET_TOO_LARGE, RECEIVE_MAXIMUM_EXCEEDED, MemoryBroker

SERVER = Server("memory", 1883)


async def test_a_client_beyond_the_receive_maximum_is_disconnected() -> None:
    broker = MemoryBroker(receive_maximum=2, ack_delay=None)
    async with broker.session(SERVER) as session:
        session.stream_events(lambda _id, _refused: True)
        session.send_event("t", b"1")
        session.send_event("t", b"2")
        assert session.open
        session.send_event("t", b"3")
        await asyncio.sleep(0)
        assert not session.open
        assert session.disconnect_reason == RECEIVE_MAXIMUM_EXCEEDED
        with pytest.raises(SessionError):
            session.send_event("t", b"4")


async def test_a_packet_beyond_the_maximum_packet_size_ends_the_connection() -> None:
    broker = MemoryBroker(maximum_packet_size=64)
    async with broker.session(SERVER) as session:
        session.send_event("t", b"x" * 100)
        await asyncio.sleep(0)
        assert session.disconnect_reason == PACKET_TOO_LARGE
    assert broker.received == []


async def test_acknowledgements_come_in_order_with_the_refusals() -> None:
    broker = MemoryBroker(
        ack_delay=None, refuse=lambda _t, payload: "Quota exceeded" if payload == b"2" else None
    )
    seen: list[tuple[int, str | None]] = []

    def acknowledged(packet_id: int, refused: str | None) -> bool:
        seen.append((packet_id, refused))
        return True

    async with broker.session(SERVER) as session:
        session.stream_events(acknowledged)
        ids = [session.send_event("t", p) for p in (b"1", b"2", b"3")]
        assert broker.acknowledge() == 3
    assert seen == [(ids[0], None), (ids[1], "Quota exceeded"), (ids[2], None)]
    assert [r.payload for r in broker.received] == [b"1", b"3"]
