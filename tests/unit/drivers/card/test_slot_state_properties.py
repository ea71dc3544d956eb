"""Whatever the monitor reports, in whatever order: the card events the slot logic publishes stay
consistent (a removal names the insertion it ends, sessions are never reused, devices alternate)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from passerelle.daemon.driver import DeviceChange, DeviceState
from passerelle.drivers.card import monitor
from passerelle.drivers.card.monitor import Observation, ReaderAdded
from passerelle.drivers.card.pcsc_api import (
    STATE_EMPTY,
    STATE_EXCLUSIVE,
    STATE_INUSE,
    STATE_MUTE,
    STATE_PRESENT,
)
from passerelle.drivers.card.slot_state import ReadPublicData
from passerelle.drivers.card.slots import CARD_STATUSES

from .slot_machine import CPS3, KAPLINK, LEO, SLOT0, SLOT1, VITALE1, VITALE2, card_event, new_machine

NAMES = (SLOT0, SLOT1, f"{KAPLINK} 01 00", LEO)  # a bi-slot reader, the same plugged again, another
FLAGS = (
    0,
    STATE_EMPTY,
    STATE_PRESENT,
    STATE_PRESENT | STATE_INUSE,
    STATE_PRESENT | STATE_EXCLUSIVE,
    STATE_PRESENT | STATE_MUTE,
)

names = st.sampled_from(NAMES)
statuses = st.builds(
    monitor.SlotStatus,
    names,
    st.sampled_from(FLAGS),
    st.sampled_from((VITALE2, VITALE1, CPS3, b"")),
    st.integers(0, 3),
)
observations: st.SearchStrategy[Observation] = st.one_of(
    st.builds(ReaderAdded, names),
    statuses,  # four times as likely as each other observation: that is where the cards move
    statuses,
    statuses,
    statuses,
    st.builds(monitor.ReaderRemoved, names),
    st.builds(monitor.ServiceDown, st.just("gone")),
    st.builds(monitor.ServiceUp),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(observations, st.floats(0, 10)), min_size=5, max_size=60))
def test_card_events_stay_consistent_whatever_the_observations(
    steps: list[tuple[Observation, float]],
) -> None:
    machine = new_machine(reads_public_data=lambda reader_id, card_type: True)
    in_slot: dict[tuple[str, int | None], tuple[str | None, object]] = {}  # the insertion not yet removed
    sessions: list[str] = []
    device_states: dict[str, DeviceState] = {}
    plugged = [(ReaderAdded(name), 0.0) for name in (SLOT0, SLOT1, LEO)]
    for observation, now in [*plugged, *steps]:
        outputs = machine.observe(observation, now)
        for index, output in enumerate(outputs):
            if isinstance(output, DeviceChange):
                device = output.device
                # Online first, and never twice in a row. (Offline may repeat: a reader whose slots
                # all read "unavailable" is offline at each removal of one of them, as it always was.)
                assert device.id in device_states or device.state is DeviceState.ONLINE
                assert not (
                    device.state is DeviceState.ONLINE and device_states.get(device.id) is device.state
                )
                device_states[device.id] = device.state
                continue
            if isinstance(output, ReadPublicData):
                previous = card_event(outputs[index - 1])  # right after the insertion it reads
                assert previous.event == "inserted" and previous.card_type is not None
                assert output.slot.card_session_id == previous.card_session_id
                continue
            data = card_event(output)
            where = (data.reader_id, data.slot)
            [own] = [state for state in data.slots if state.slot == data.slot]
            if data.event == "inserted":
                assert where not in in_slot, "inserted twice without a removal"
                in_slot[where] = (data.card_session_id, data.card_type)
                if data.card_session_id is not None:  # None: a mute card, no type, no session shown
                    sessions.append(data.card_session_id)
                assert own.status in CARD_STATUSES and own.card_session_id == data.card_session_id
            elif data.event == "removed":
                assert in_slot.pop(where) == (data.card_session_id, data.card_type)
                assert own.status not in CARD_STATUSES and own.card_session_id is None
            else:
                assert (own.status in CARD_STATUSES) == (where in in_slot)
    assert len(sessions) == len(set(sessions))  # a new session at every insertion
    for (reader_id, slot_number), (session, _) in in_slot.items():
        if session is not None:
            assert machine.readers[reader_id].slots[slot_number or 0].card_session_id == session
