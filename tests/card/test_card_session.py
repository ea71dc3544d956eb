"""card_session_id end to end (virtual card -> vpcd -> real pcscd -> daemon -> Mosquitto): pulling a card
and putting the same one back gives a new id, in the card event, the retained reader state and the
card data, so a front end can tell that what it read is no longer what is in the slot."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from passerelle.daemon.broker import PrivateBroker
from passerelle.simulators.card.isolated_pcscd import IsolatedPcscd
from passerelle.simulators.card.virtual_cards import make_card
from passerelle.testing.support import MqttCollector, collect, inprocess_daemon
from tests.card.conftest import READER_ID, Slots
from tests.card.test_e2e import BASE, _config

CARD = "passerelle.card/1"
CARD_DATA = "passerelle.card-data/1"


def slot0_session_in_state(mqtt: MqttCollector) -> str | None:
    """Slot 0's card_session_id in the reader's latest retained state."""
    states = mqtt.on(f"{BASE}/{READER_ID}/state")
    if not states:
        return None
    slots: list[dict[str, Any]] = states[-1].json()["data"]["slots"]
    return next(s.get("card_session_id") for s in slots if s["slot"] == 0)


async def insert_and_observe(mqtt: MqttCollector, slots: Slots) -> tuple[str, dict[str, Any]]:
    """Insert the same Vitale card in slot 0; its new session id and the card data read under it."""
    seen = {e["event_id"] for e in mqtt.events(CARD)}
    slots.insert(make_card("vitale2", beneficiaries=1), slot=0)
    inserted = await mqtt.wait_for_event(
        CARD, lambda e: e["event_id"] not in seen and e["data"]["event"] == "inserted"
    )
    session: str = inserted["data"]["card_session_id"]
    read = await mqtt.wait_for_event(CARD_DATA, lambda e: e["data"]["card_session_id"] == session)
    await mqtt.wait_for(lambda _: slot0_session_in_state(mqtt) == session, what="retained state")
    return session, read


async def test_the_same_card_put_back_gets_a_new_card_session_id(
    broker: PrivateBroker, pcscd: IsolatedPcscd, slots: Slots, tmp_path: Path
) -> None:
    config = _config(broker, pcscd, tmp_path, read_public_data={"card_types": ["vitale2"]})
    async with collect(broker.host, broker.port, f"{BASE}/#") as mqtt, inprocess_daemon(config):
        first, first_read = await insert_and_observe(mqtt, slots)
        slots.remove_all()
        removed = await mqtt.wait_for_event(CARD, lambda e: e["data"]["event"] == "removed")
        await mqtt.wait_for(lambda _: slot0_session_in_state(mqtt) is None, what="empty slot state")
        second, second_read = await insert_and_observe(mqtt, slots)

    assert first != second
    assert uuid.UUID(first).version == 4 and uuid.UUID(second).version == 4  # random, not derived
    assert removed["data"]["card_session_id"] == first  # the removal names the card that left
    assert first_read["data"]["status"] == second_read["data"]["status"] == "ok"
