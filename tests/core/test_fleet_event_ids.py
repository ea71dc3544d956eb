"""Event ids are unique across a fleet: two real stations on one real Mosquitto, each with a synthetic
device and a CPAP source of the same ids, importing the same SD card, never publish the same id."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from passerelle.daemon.broker import PrivateBroker
from passerelle.drivers.cpap.events import IMPORT_SCHEMA
from passerelle.drivers.synthetic.driver import event_id_for
from passerelle.simulators.cpap.card import write_card
from passerelle.simulators.cpap.profile import BUILTIN
from passerelle.testing.support import DaemonProcess, MqttCollector, base_config, collect

STATIONS = ("station-a", "station-b")
COUNT = 40


def station_config(broker: PrivateBroker, tmp_path: Path, station: str, card: Path) -> dict[str, Any]:
    media = tmp_path / station / "media"
    shutil.copytree(card, media / "card")  # the same card, read at each counter
    return base_config(
        broker.port,
        tmp_path / station / "state",
        station=station,
        synthetic={"devices": [{"id": "counter", "rate": 0, "count": COUNT, "resume": True}]},
        cpap={"devices": [{"id": "counter-sd", "kind": "sdcard", "path": str(media), "settle_seconds": 0.1}]},
    )


def channel_events(seen: MqttCollector, leaf: str) -> list[dict[str, Any]]:
    """Events as published on a channel (retained state topics repeat some of them)."""
    return [m.json() for m in seen.messages if m.topic.split("/")[-1] == leaf and not m.retain]


def finished_imports(seen: MqttCollector) -> set[str]:
    return {
        e["station"]
        for e in channel_events(seen, "observance")
        if e["schema"] == IMPORT_SCHEMA and e["data"]["status"] == "finished"
    }


async def test_two_stations_never_share_an_event_id(broker: PrivateBroker, tmp_path: Path) -> None:
    card = write_card(replace(BUILTIN["good"], days=40), tmp_path / "staging" / "card").root
    daemons = [
        DaemonProcess(station_config(broker, tmp_path, s, card), tmp_path / s / "run") for s in STATIONS
    ]
    async with collect(broker.host, broker.port, "passerelle/#") as seen:
        for daemon in daemons:
            daemon.start()
        await seen.wait_for(
            lambda _: (
                len(channel_events(seen, "synthetic")) >= COUNT * len(STATIONS)
                and finished_imports(seen) == set(STATIONS)
            ),
            60,
            "every synthetic event and an import from each station",
        )
        for daemon in daemons:
            assert await daemon.stop() == 0

    synthetic = channel_events(seen, "synthetic")
    observance = channel_events(seen, "observance")
    published = [e["event_id"] for e in synthetic + observance]
    duplicates = {i for i in published if published.count(i) > 1}
    assert not duplicates, f"{len(duplicates)} of {len(published)} ids published twice"
    for station in STATIONS:
        # Stable: derived from station, device and number, so a resent event keeps its id.
        ids = {e["event_id"] for e in synthetic if e["station"] == station}
        assert ids == {str(event_id_for(station, "counter", seq)) for seq in range(COUNT)}
    # Both stations did publish the same facts: the same days of the same device.
    days = {(e["station"], e["data"]["date"]) for e in observance if "usage_minutes" in e["data"]}
    assert {d for s, d in days if s == STATIONS[0]} == {d for s, d in days if s == STATIONS[1]} != set()
