"""What is in the readers right now (for ``passerelle cards`` and the doctor)."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.card.atr import describe
from drivers.card.identity import device_id, parse_reader_name
from drivers.card.pcsc_api import (
    S_SUCCESS,
    STATE_EMPTY,
    STATE_EXCLUSIVE,
    STATE_INUSE,
    STATE_MUTE,
    STATE_PRESENT,
    PcscApi,
    PcscError,
)


@dataclass(frozen=True, slots=True)
class SlotSnapshot:
    reader_id: str
    reader: str
    pcsc_name: str
    slot: int
    status: str
    card_type: str | None
    atr: str | None
    label: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "reader_id": self.reader_id,
            "reader": self.reader,
            "pcsc_name": self.pcsc_name,
            "slot": self.slot,
            "status": self.status,
            "card_type": self.card_type,
            "atr": self.atr,
            "label": self.label,
        }


def take_snapshot(api: PcscApi) -> list[SlotSnapshot]:
    """Raises PcscError when pcscd does not answer."""
    context = api.establish()
    try:
        readers = api.list_readers(context)
        if not readers:
            return []
        rc, states = api.get_status_change(context, 0, [(name, 0) for name in readers])
        if rc != S_SUCCESS:
            raise PcscError("SCardGetStatusChange", rc)
    finally:
        api.release(context)
    slots = []
    for state in states:
        name = parse_reader_name(state.name)
        flags = state.event_state
        card = describe(state.atr) if flags & STATE_PRESENT and state.atr else None
        if flags & STATE_PRESENT:
            status = (
                "mute"
                if flags & STATE_MUTE
                else "in_use"
                if flags & (STATE_INUSE | STATE_EXCLUSIVE)
                else "present"
            )
        else:
            status = "empty" if flags & STATE_EMPTY else "unavailable"
        slots.append(
            SlotSnapshot(
                reader_id=device_id(name),
                reader=name.base,
                pcsc_name=state.name,
                slot=name.slot,
                status=status,
                card_type=card.card_type.value if card else None,
                atr=card.atr if card else None,
                label=card.label if card else None,
            )
        )
    return slots
