"""Shared by the slot state machine's tests: reader names, cards, observations, a readable summary."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from passerelle.daemon.driver import DeviceChange, DriverEvent
from passerelle.drivers.card.atr import CardType, Classification, describe
from passerelle.drivers.card.events import CardEvent
from passerelle.drivers.card.monitor import ReaderAdded, SlotStatus
from passerelle.drivers.card.pcsc_api import STATE_EMPTY, STATE_PRESENT
from passerelle.drivers.card.slot_state import ReadPublicData, SlotOutput, SlotStateMachine
from passerelle.simulators.card.virtual_cards import ATRS

KAPLINK = "Kapelse KAP-LINK2 [CCID] (ABC123)"
KAPLINK_ID = "kapelse-kap-link2-ccid-abc123"
SLOT0, SLOT1 = f"{KAPLINK} 00 00", f"{KAPLINK} 00 01"
LEO = "Ingenico Leo (77) 00 00"
LEO_ID = "ingenico-leo-77"

VITALE2 = bytes.fromhex(ATRS["vitale2"])
VITALE1 = bytes.fromhex(ATRS["vitale1"])
CPS3 = bytes.fromhex(ATRS["cps3"])
UNKNOWN = bytes.fromhex(ATRS["unknown"])


def never_read(reader_id: str, card_type: CardType) -> bool:
    return False


def new_machine(
    reads_public_data: Callable[[str, CardType], bool] = never_read,
    classify: Callable[[bytes], Classification] = describe,
) -> SlotStateMachine:
    """A machine whose card session ids are session-1, session-2… in insertion order."""
    counter = itertools.count(1)
    return SlotStateMachine(
        reads_public_data=reads_public_data,
        new_card_session_id=lambda: f"session-{next(counter)}",
        classify=classify,
    )


def plug_empty(machine: SlotStateMachine, *names: str) -> None:
    """These reader slots appear, empty."""
    for name in names:
        machine.observe(ReaderAdded(name), 0.0)
        machine.observe(empty(name), 0.0)


def present(name: str, atr: bytes, card_events: int = 0, extra_flags: int = 0) -> SlotStatus:
    return SlotStatus(name, STATE_PRESENT | extra_flags, atr, card_events)


def empty(name: str, card_events: int = 0) -> SlotStatus:
    return SlotStatus(name, STATE_EMPTY, b"", card_events)


def card_event(output: SlotOutput) -> CardEvent:
    assert isinstance(output, DriverEvent) and isinstance(output.data, CardEvent)
    return output.data


def summary(outputs: Sequence[SlotOutput]) -> list[tuple[object, ...]]:
    """One tuple an output: ("inserted"/"removed"/"state", reader id, slot, card type, session,
    reason), ("device", id, state, problem) or ("read", reader id, slot)."""
    rows: list[tuple[object, ...]] = []
    for output in outputs:
        if isinstance(output, DeviceChange):
            device = output.device
            rows.append(("device", device.id, device.state.value, device.problem))
        elif isinstance(output, ReadPublicData):
            rows.append(("read", output.reader.info.id, output.slot.slot))
        else:
            data = card_event(output)
            card_type = data.card_type.value if data.card_type else None
            rows.append((data.event, data.reader_id, data.slot, card_type, data.card_session_id, data.reason))
    return rows


def statuses(output: SlotOutput) -> list[str]:
    """Every slot's status after a card event, as the retained state shows them."""
    return [state.status for state in card_event(output).slots]
