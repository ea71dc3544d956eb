"""The card slots as a state machine: what the PC/SC watcher observes in, what to publish out.

Pure code: no pcscd, no thread, no asyncio, no clock (the caller passes ``now``); the card session ids
and the ATR classification come from the functions it is given (uuid4 and ``atr.describe`` by
default, the latter reading pcsc-tools' label list once). The card driver is the I/O shell around
it: it feeds the monitor's observations, publishes the items that come back and starts the public
data reads the machine asks for. Nothing here ever talks to a card, so nothing here can power-cycle
or lock one.

What each observation gives:
- a reader slot appearing: the reader's device (new, or back online); the slot's status follows;
- a slot status: "inserted" / "removed" / "state" card events, with every slot of the reader after
  the change (the reader's retained state); a card pulled and put back between two polls (the event
  counter moved, or another ATR) is "removed" then "inserted", with a new card session id;
- a reader slot vanishing: its card "removed" (reason ``reader_removed``), the reader offline once all
  its slots read "unavailable";
- the PC/SC service lost: every card "removed" (reason ``pcscd_unavailable``), every reader offline.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from passerelle.daemon.driver import (
    DeviceChange,
    DeviceInfo,
    DeviceState,
    DriverEvent,
    DriverItem,
    RequestError,
)
from passerelle.drivers.card.atr import PATIENT_CARDS, PROFESSIONAL_CARDS, CardType, Classification, describe
from passerelle.drivers.card.events import CARD_SCHEMA, CardEvent, SlotStatusName
from passerelle.drivers.card.identity import device_id, parse_reader_name
from passerelle.drivers.card.monitor import (
    Observation,
    ReaderAdded,
    ReaderRemoved,
    ServiceDown,
    ServiceUp,
    SlotStatus,
)
from passerelle.drivers.card.public_read import ReadResult
from passerelle.drivers.card.slots import CARD_STATUSES, Reader, Slot, slot_holding
from passerelle.drivers.card.snapshot import slot_status

FAMILY_NAME = "card"
DRIVER_NAME = "pcsc"


@dataclass(frozen=True, slots=True)
class ReadPublicData:
    """Ask the shell to read the public data of the card just inserted (the read policy allows it)."""

    reader: Reader
    slot: Slot


SlotOutput = DriverItem | ReadPublicData


def random_card_session_id() -> str:
    return str(uuid.uuid4())


class SlotStateMachine:
    def __init__(
        self,
        *,
        reads_public_data: Callable[[str, CardType], bool],
        new_card_session_id: Callable[[], str] = random_card_session_id,
        classify: Callable[[bytes], Classification] = describe,
    ) -> None:
        """``reads_public_data(reader_id, card_type)``: the opt-in read policy. ``classify``: the ATR's
        card type and label (``describe`` may look the label up in pcsc-tools' list, once)."""
        self.readers: dict[str, Reader] = {}  # by device id; kept while offline, to come back the same
        self._by_name: dict[str, tuple[str, int]] = {}  # PC/SC name of a present slot -> (device id, slot)
        self._reads_public_data = reads_public_data
        self._new_card_session_id = new_card_session_id
        self._classify = classify

    def observe(self, observation: Observation, now: float) -> list[SlotOutput]:
        """The items to publish, in order. ``now``: the monotonic clock, against ``Slot.own_use_until``."""
        if isinstance(observation, ServiceUp):
            return []
        if isinstance(observation, ServiceDown):
            return list(self._service_lost())
        if isinstance(observation, ReaderAdded):
            return list(self._reader_added(observation.name))
        if isinstance(observation, ReaderRemoved):
            return list(self._reader_removed(observation.name))
        return list(self._slot_status(observation, now))

    def listing(self) -> list[dict[str, Any]]:
        """Every reader and its slots, as the ``card-list`` request answers."""
        return [
            {
                "reader_id": reader.info.id,
                "reader": reader.name.base,
                "state": reader.info.state.value,
                "slots": [reader.slots[n].state().model_dump(mode="json") for n in sorted(reader.slots)],
            }
            for reader in self.readers.values()
        ]

    def cards_to_read(self, reader_id: object, wanted_slot: object) -> Iterator[tuple[Reader, Slot]]:
        """The cards a ``card-read`` request names (every card of the reader without a slot), one at a
        time; raises the request's typed error when there is none, or on reaching a card the policy
        does not let us read (the cards before it have been read by then)."""
        reader = self.readers.get(reader_id) if isinstance(reader_id, str) else None
        if reader is None:
            raise RequestError("not_found", f"no reader {reader_id!r}")
        slots = [s for s in reader.slots.values() if s.has_card and s.card is not None]
        if wanted_slot is not None:
            slots = [s for s in slots if s.slot == wanted_slot]
        if not slots:
            raise RequestError("no_card", "no card in that reader or slot")
        for slot in slots:
            assert slot.card is not None
            if not self._reads_public_data(reader.info.id, slot.card.card_type):
                raise RequestError("not_enabled", "public data reading is not enabled for this card")
            yield reader, slot

    def _service_lost(self) -> Iterator[DriverItem]:
        for reader in self.readers.values():
            told = False  # the retained state must say "unavailable" even when no card was in
            for slot in reader.slots.values():
                if slot.has_card:
                    yield self._removed(reader, slot, "pcscd_unavailable", new_status="unavailable")
                    told = True
                else:
                    slot.status = "unavailable"
            if not told and reader.slots and reader.info.state is DeviceState.ONLINE:
                first = reader.slots[min(reader.slots)]
                yield self._event(reader, "state", first, reason="pcscd_unavailable")
            if reader.info.state is DeviceState.ONLINE:
                reader.info = replace(reader.info, state=DeviceState.OFFLINE, problem="pcscd unavailable")
                yield DeviceChange(reader.info)
        self._by_name.clear()

    def _reader_added(self, pcsc_name: str) -> Iterator[DriverItem]:
        name = parse_reader_name(pcsc_name)
        ident = device_id(name)
        existing = self.readers.get(ident)
        if existing is not None:
            taken = existing.slots.get(name.slot)
            same_slot_busy = (
                taken is not None and taken.pcsc_name != pcsc_name and taken.pcsc_name in self._by_name
            )
            if existing.name.base != name.base or same_slot_busy:
                # Two identical readers without a serial (or two names with one slug): only the plug
                # order can tell them apart.
                ident = f"{ident}-{name.index or 0}"
                existing = self.readers.get(ident)
        if existing is None:
            info = DeviceInfo(
                id=ident, family=FAMILY_NAME, driver=DRIVER_NAME, model=name.model, interface=name.base
            )
            existing = self.readers[ident] = Reader(info=info, name=name)
            yield DeviceChange(info)
        elif existing.info.state is not DeviceState.ONLINE:
            existing.info = replace(existing.info, state=DeviceState.ONLINE, problem=None)
            yield DeviceChange(existing.info)
        slot = existing.slots.get(name.slot)
        if slot is None:
            existing.slots[name.slot] = Slot(pcsc_name=pcsc_name, slot=name.slot)
        else:
            slot.pcsc_name = pcsc_name
        self._by_name[pcsc_name] = (ident, name.slot)

    def _reader_removed(self, pcsc_name: str) -> Iterator[DriverItem]:
        where = self._by_name.pop(pcsc_name, None)
        if where is None:
            return
        reader = self.readers[where[0]]
        slot = reader.slots[where[1]]
        if slot.has_card:
            yield self._removed(reader, slot, "reader_removed", new_status="unavailable")
        else:
            slot.status = "unavailable"
            yield self._event(reader, "state", slot)
        if all(s.status == "unavailable" for s in reader.slots.values()):
            reader.info = replace(reader.info, state=DeviceState.OFFLINE, problem="reader removed")
            yield DeviceChange(reader.info)

    def _slot_status(self, observation: SlotStatus, now: float) -> Iterator[SlotOutput]:
        where = self._by_name.get(observation.name)
        if where is None:
            return
        reader = self.readers[where[0]]
        slot = reader.slots[where[1]]
        status = slot_status(observation.flags, in_use_is_ours=now < slot.own_use_until)
        atr = observation.atr if status in ("present", "in_use") else None
        had_card, has_card = slot.has_card, status in CARD_STATUSES
        if had_card and has_card and (observation.card_events > 0 or atr != slot.atr):
            # Pulled and put back (maybe another card) between two polls: the counter tells.
            yield self._removed(reader, slot, None, new_status="empty")
            yield from self._inserted(reader, slot, status, atr)
        elif had_card and not has_card:
            yield self._removed(reader, slot, None, new_status=status)
        elif has_card and not had_card:
            yield from self._inserted(reader, slot, status, atr)
        elif status != slot.status:
            slot.status = status
            yield self._event(reader, "state", slot)

    def _inserted(
        self, reader: Reader, slot: Slot, status: SlotStatusName, atr: bytes | None
    ) -> Iterator[SlotOutput]:
        slot.status = status
        slot.atr = atr
        slot.card = self._classify(atr) if atr else None
        slot.card_session_id = self._new_card_session_id()
        yield self._event(reader, "inserted", slot)
        if slot.card is not None and self._reads_public_data(reader.info.id, slot.card.card_type):
            yield ReadPublicData(reader, slot)

    def _removed(
        self, reader: Reader, slot: Slot, reason: str | None, new_status: SlotStatusName
    ) -> DriverEvent:
        card, session = slot.card, slot.card_session_id
        slot.status, slot.atr, slot.card, slot.card_session_id = new_status, None, None, None
        return self._event(reader, "removed", slot, card=card, card_session_id=session, reason=reason)

    @staticmethod
    def _event(
        reader: Reader,
        kind: str,
        slot: Slot,
        *,
        card: Classification | None = None,
        card_session_id: str | None = None,
        reason: str | None = None,
    ) -> DriverEvent:
        if card is None and slot.has_card:
            card, card_session_id = slot.card, slot.card_session_id
        slots = [reader.slots[number].state() for number in sorted(reader.slots)]
        data = CardEvent(
            event=kind,
            reader=reader.name.base,
            reader_id=reader.info.id,
            slot=slot.slot,
            atr=card.atr if card else None,
            card_type=card.card_type if card else None,
            label=card.label if card else None,
            card_session_id=card_session_id if card else None,
            reason=reason,
            slots=slots,
            patient_card_slot=slot_holding(slots, PATIENT_CARDS),
            professional_card_slot=slot_holding(slots, PROFESSIONAL_CARDS),
        )
        return DriverEvent(device=reader.info, schema=CARD_SCHEMA, data=data, retained_state="state")


def settled_read(slot: Slot, card_session_id: str | None, result: ReadResult) -> ReadResult:
    """What a finished read of the insertion ``card_session_id`` may tell: if the slot holds another
    insertion now (pulled, maybe swapped, during the read), what was read may belong to either card."""
    if slot.card_session_id != card_session_id:
        return ReadResult("card_removed", "the card left the slot during the read")
    return result
