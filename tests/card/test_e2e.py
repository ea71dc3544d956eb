"""End to end: virtual card -> vpcd -> real pcscd -> the card driver -> the daemon -> Mosquitto."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt

from passerelle.daemon.broker import PrivateBroker
from passerelle.simulators.card.isolated_pcscd import IsolatedPcscd
from passerelle.simulators.card.virtual_cards import ATRS, SAMPLE_BENEFICIARIES, make_card
from passerelle.testing.support import Received, base_config, collect, inprocess_daemon
from tests.card.conftest import READER_ID, Slots

BASE = "passerelle/test"


def _config(broker: PrivateBroker, pcscd: IsolatedPcscd, tmp_path: Path, **card: object) -> dict[str, object]:
    """The daemon's configuration with only the card family on, pointed at the private pcscd."""
    devices = [{"pcsc_socket": str(pcscd.socket_path)}]
    return base_config(broker.port, tmp_path / "state", card={"devices": devices, **card})


async def test_insertion_reaches_the_card_topic_and_the_retained_state(
    broker: PrivateBroker, pcscd: IsolatedPcscd, slots: Slots, tmp_path: Path
) -> None:
    config = _config(broker, pcscd, tmp_path, read_public_data={"card_types": ["vitale2"]})
    async with (
        collect(broker.host, broker.port, f"{BASE}/#") as mqtt,
        inprocess_daemon(config),
    ):
        await mqtt.wait_for(
            lambda ms: any(
                m.topic == f"{BASE}/{READER_ID}/availability" and m.json()["state"] == "online" for m in ms
            ),
            what="reader online",
        )
        slots.insert(make_card("vitale2", beneficiaries=2), slot=0)
        slots.insert(make_card("cps3"), slot=1)
        inserted = await mqtt.wait_for_event(
            "passerelle.card/1", lambda e: e["data"]["event"] == "inserted" and e["data"]["slot"] == 0
        )
        read = await mqtt.wait_for_event("passerelle.card-data/1")
        await mqtt.wait_for_event(
            "passerelle.card/1", lambda e: e["data"]["event"] == "inserted" and e["data"]["slot"] == 1
        )

        # A late subscriber sees the reader's current state, retained.
        async with collect(broker.host, broker.port, f"{BASE}/{READER_ID}/state") as late:
            await late.wait_for(
                lambda ms: any(m.retain and len(_present(m.json())) == 2 for m in ms), what="retained state"
            )
            state = late.messages[-1].json()
        response: dict[str, object] = {}

        # The read can be asked again over MQTT.
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.subscribe(f"{BASE}/bridge/response/card-read", qos=1)
            request = {"reader_id": READER_ID, "slot": 0, "transaction": "t-1"}
            await client.publish(f"{BASE}/bridge/request/card-read", json.dumps(request), qos=1)
            async with asyncio.timeout(10):
                async for answer in client.messages:
                    response = json.loads(answer.payload if isinstance(answer.payload, bytes) else b"{}")
                    if response.get("transaction") == "t-1":
                        break

    assert inserted["schema"] == "passerelle.card/1"
    assert inserted["device"]["id"] == READER_ID and inserted["device"]["family"] == "card"
    assert inserted["data"]["card_type"] == "vitale2"
    assert inserted["data"]["atr"] == ATRS["vitale2"]
    on_card_topic = [m for m in mqtt.on(f"{BASE}/card") if m.json()["data"]["event"] == "inserted"]
    assert len(on_card_topic) == 2 and not any(m.retain for m in on_card_topic)

    assert state["data"]["patient_card_slot"] == 0 and state["data"]["professional_card_slot"] == 1

    assert read["data"]["status"] == "ok"
    assert [b["first_name"] for b in read["data"]["beneficiaries"]] == ["CLAIRE", "LUCAS"]
    assert mqtt.on(f"{BASE}/card-data")
    # Redacted by default: no NIR anywhere on the broker, in payloads or topics.
    for message in mqtt.messages:
        for person in SAMPLE_BENEFICIARIES:
            assert person.nir.encode() not in message.payload
            assert person.nir not in message.topic
            assert person.last_name.lower() not in message.topic

    assert response["status"] == "ok", response
    answered = response["data"]
    assert isinstance(answered, list) and answered[0]["beneficiaries"][0]["nir"] is None


def _present(payload: dict[str, object]) -> list[object]:
    data = payload.get("data")
    assert isinstance(data, dict)
    slots = data.get("slots")
    assert isinstance(slots, list)
    return [s for s in slots if isinstance(s, dict) and s.get("status") == "present"]


async def test_pcscd_restart_seen_over_mqtt_without_restarting_the_daemon(
    broker: PrivateBroker, pcscd: IsolatedPcscd, slots: Slots, tmp_path: Path
) -> None:
    config = _config(broker, pcscd, tmp_path, reconnect_max_s=0.5)
    availability = f"{BASE}/{READER_ID}/availability"

    def last_availability(ms: list[Received]) -> str | None:
        states = [m.json()["state"] for m in ms if m.topic == availability]
        return states[-1] if states else None

    async with (
        collect(broker.host, broker.port, f"{BASE}/#") as mqtt,
        inprocess_daemon(config) as daemon,
    ):
        slots.insert(make_card("cps4"), slot=1)
        await mqtt.wait_for_event("passerelle.card/1", lambda e: e["data"]["event"] == "inserted")
        drivers_before = list(daemon.drivers)
        await asyncio.to_thread(pcscd.stop, True)
        gone = await mqtt.wait_for_event(
            "passerelle.card/1", lambda e: e["data"]["reason"] == "pcscd_unavailable"
        )
        await mqtt.wait_for(lambda ms: last_availability(ms) == "offline", what="reader offline")
        slots.remove_all()
        await asyncio.to_thread(pcscd.start)
        slots.insert(make_card("cps4"), slot=1)
        await mqtt.wait_for(lambda ms: last_availability(ms) == "online", what="reader online again")

        def insertions(_: list[Received]) -> int:
            return len([e for e in mqtt.events("passerelle.card/1") if e["data"]["event"] == "inserted"])

        await mqtt.wait_for(lambda ms: insertions(ms) == 2, what="second insertion")
        assert daemon.drivers == drivers_before
    assert gone["data"]["card_type"] == "cps4"
