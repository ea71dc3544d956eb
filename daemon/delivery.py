"""Which stored event keeps failing: per-row tries, size limits, and the suspect sent alone.

A broker refuses an event in one of two ways. An MQTT 5 broker may answer its PUBACK with an error
reason code (not authorized, packet too large…): the event is named. Otherwise the broker just closes
the connection (Mosquitto does for a publish beyond its ``message_size_limit`` or ``max_packet_size``),
and MQTT 3.1.1 has no reason code at all: the event is inferred. When the connection dies with
several events in flight, none is charged (the broker may have acknowledged the first ones in PUBACKs
that a connection reset discarded); the next connection sends those events one at a time, so that
the next death names its event for sure. The charged suspect then goes out alone.

A broker that refuses every event (an ACL that forgets the whole channel) is not the event's fault,
and its events must stay in the outbox until the broker is fixed. So the suspect's last try needs
proof that the broker takes other events: one acknowledged since the session of its first failure.
Without one, the suspect is held back while the next events go; once one of them is acknowledged it
gets its last try in the same session. Only a failed last try sets it aside (quarantine). If the
broker takes nothing while the suspect waits, every charge is forgotten.

Sizes are checked before anything is sent: an event that can never fit (the configured
``mqtt.max_payload_bytes`` or the broker's MQTT 5 Maximum Packet Size) is refused to its driver at
hand-over, and one already stored is set aside without trying.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from passerelle.daemon.outbox import OutboxRow

log = logging.getLogger(__name__)

PUBLISH_HEADER = 1  # packet type and flags
PACKET_ID = 2  # QoS 1
TOPIC_LENGTH = 2
NO_PROPERTIES = 1  # MQTT 5: a zero property length


# Moves a row the broker will not take out of the outbox, with its tries and the reason.
SetAside = Callable[[OutboxRow, int, str], Awaitable[None]]


class EventTooLargeError(Exception):
    """The event can never be published: larger than the broker or the configuration allows."""


def publish_packet_size(topic: str, payload_size: int, *, v5: bool) -> int:
    """Bytes of a QoS 1 PUBLISH without properties, as the broker's Maximum Packet Size counts them."""
    remaining = TOPIC_LENGTH + len(topic.encode()) + PACKET_ID + (NO_PROPERTIES if v5 else 0) + payload_size
    length_bytes = 1
    while remaining >= 128**length_bytes and length_bytes < 4:
        length_bytes += 1
    return PUBLISH_HEADER + length_bytes + remaining


@dataclass(slots=True)
class Charges:
    tries: int
    reason: str
    acks_before: int  # events acknowledged before the session of the first failure


class DeliveryTracker:
    def __init__(
        self, *, max_payload_bytes: int | None, tries: int, v5: bool, set_aside: SetAside | None = None
    ) -> None:
        self.max_payload_bytes = max_payload_bytes
        self.held_back_after = max(1, tries - 1)  # charges before the last try, which needs proof
        self.v5 = v5
        self.broker_max_packet: int | None = None  # MQTT 5 CONNACK Maximum Packet Size, when announced
        self.suspect: int | None = None  # the last charged row: sent alone until acknowledged
        # Rows up to this one were in flight together when the connection died: sent one at a time.
        self.careful_until: int | None = None
        self._careful_acks = 0  # ``acks`` at the start of the session whose death began that
        self._charges: dict[int, Charges] = {}
        self.acks = 0  # events acknowledged by the broker, over the daemon's life
        self._session_acks = 0  # ``acks`` when the session started
        # This session: the suspect held back until another event passes, and the row on its last try.
        self.held_back: OutboxRow | None = None
        self.last_try: int | None = None
        self.set_aside = set_aside  # the quarantine (None: only in tests of the publisher alone)
        self.refused_too_large = 0  # events refused to their driver at hand-over

    def too_large(self, topic: str, payload_size: int) -> str | None:
        """Why an event of this size can never be published, or None when it fits."""
        if self.max_payload_bytes is not None and payload_size > self.max_payload_bytes:
            limit = self.max_payload_bytes
            return f"payload of {payload_size} bytes exceeds mqtt.max_payload_bytes ({limit})"
        if self.broker_max_packet is not None:
            packet = publish_packet_size(topic, payload_size, v5=self.v5)
            if packet > self.broker_max_packet:
                return (
                    f"packet of {packet} bytes exceeds the broker's Maximum Packet Size "
                    f"({self.broker_max_packet})"
                )
        return None

    def refuse_oversized(self, topic: str, payload: bytes) -> EventTooLargeError | None:
        """At hand-over from a driver: the error to give it when the event can never be published."""
        reason = self.too_large(topic, len(payload))
        if reason is None:
            return None
        self.refused_too_large += 1
        return EventTooLargeError(f"event not stored: {reason}")

    def session_started(self) -> None:
        self.held_back = None
        self.last_try = None
        self._session_acks = self.acks

    def goes_alone(self, seq: int, probing: int | None) -> bool:
        """Whether ``seq`` waits until nothing is in flight: one at a time while the rows of the last
        death are sorted out; the suspect alone, and nothing after it until its PUBACK (``probing``
        is the suspect once sent). If the connection dies then, the row in flight is the cause."""
        if self.careful_until is not None:
            return True
        return self.suspect is not None and (seq == self.suspect or probing == self.suspect)

    def holds_back(self, row: OutboxRow) -> bool:
        """Whether the drain keeps this row for later in the session (its last try needs proof)."""
        if row.seq != self.suspect or self.last_try is not None:
            return False
        charges = self._charges.get(row.seq)
        if charges is None or charges.tries < self.held_back_after:
            return False
        if self.acks > charges.acks_before:  # other events passed since it first failed
            self.last_try = row.seq
            return False
        self.held_back = row
        return True

    def delivered(self, seq: int) -> OutboxRow | None:
        """An acknowledged row. Returns the held-back suspect when this is the proof it waited for."""
        self.acks += 1
        if self.careful_until is not None and seq >= self.careful_until:
            self.careful_until = None
        if self._charges and self._charges.pop(seq, None) is not None and self.suspect == seq:
            self.suspect = None
        if self.held_back is not None and self.last_try is None and seq != self.held_back.seq:
            self.last_try = self.held_back.seq
            return self.held_back
        return None

    def forget(self, seq: int) -> None:
        """The row left the outbox another way (set aside, trimmed)."""
        self._charges.pop(seq, None)
        if self.suspect == seq:
            self.suspect = None

    async def session_ended(
        self, inflight: Iterable[OutboxRow], refused: tuple[OutboxRow, str] | None, error: str | None
    ) -> bool:
        """Charge an ended session to the row that ended it: the one the broker refused, else the
        held-back suspect on its last try, else the one event in flight when the connection died.
        Returns True when the connection died with events in flight (failed publishes). A failed
        last try sets the row aside."""
        pending = {row.seq: row for row in inflight}
        last_try, careful = self.last_try, self.careful_until is not None
        session_acks = self._careful_acks if careful else self._session_acks
        row: OutboxRow | None = None
        if refused is not None:
            row, reason = refused
        elif last_try is not None and last_try in pending:
            row = pending[last_try]
            reason = f"the connection died on its last try, after the broker took other events: {error}"
        elif len(pending) == 1:
            [row] = pending.values()
            reason = f"the connection died while it was the only event in flight: {error}"
        elif pending:
            if not careful:
                self._careful_acks = self._session_acks
            self.careful_until = max(pending)
        unproven = self.held_back is not None and last_try is None
        self.session_started()
        if unproven:  # the broker took nothing while the suspect waited: not the suspect's fault
            self._charges.clear()
            self.suspect = None
        if row is None or unproven:
            return bool(pending) and refused is None
        self.careful_until = None  # found: the one in flight
        charges = self._charges.setdefault(row.seq, Charges(0, reason, session_acks))
        charges.tries += 1
        charges.reason = reason
        self.suspect = row.seq
        log.warning("event %s failed (%d tries): %s", row.event_id, charges.tries, reason)
        if row.seq == last_try:
            await self.give_up(row, charges.tries, charges.reason)
        return refused is None

    async def give_up(self, row: OutboxRow, tries: int, reason: str) -> None:
        """Set the row aside in the quarantine; on failure it stays in the outbox and is tried again."""
        self.forget(row.seq)
        if self.set_aside is None:
            log.error("event %s cannot be published and there is no quarantine: %s", row.event_id, reason)
            return
        try:
            await self.set_aside(row, tries, reason)
        except Exception:
            log.exception("could not move event %s to the quarantine", row.event_id)
