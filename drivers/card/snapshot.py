"""What is in the readers right now (for ``passerelle cards`` and the doctor)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from passerelle.drivers.card.atr import describe
from passerelle.drivers.card.events import SlotStatusName
from passerelle.drivers.card.identity import device_id, parse_reader_name
from passerelle.drivers.card.pcsc_api import (
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
    status: SlotStatusName
    card_type: str | None
    atr: str | None
    label: str | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def slot_status(flags: int, *, in_use_is_ours: bool = False) -> SlotStatusName:
    """A slot's status from its SCARD_STATE_* flags, the same for ``passerelle cards`` and the driver.

    ``in_use_is_ours``: the INUSE flag comes from our own public data read, so it is not another
    application's use. EXCLUSIVE always counts: our reads only ever connect shared.
    """
    if flags & STATE_PRESENT:
        if flags & STATE_MUTE:
            return "mute"
        if flags & STATE_EXCLUSIVE or (flags & STATE_INUSE and not in_use_is_ours):
            return "in_use"
        return "present"
    return "empty" if flags & STATE_EMPTY else "unavailable"


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
        slots.append(
            SlotSnapshot(
                reader_id=device_id(name),
                reader=name.base,
                pcsc_name=state.name,
                slot=name.slot,
                status=slot_status(flags),
                card_type=card.card_type.value if card else None,
                atr=card.atr if card else None,
                label=card.label if card else None,
            )
        )
    return slots
