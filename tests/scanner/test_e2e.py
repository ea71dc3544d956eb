"""End to end: simulators -> real drivers -> the daemon -> a real Mosquitto -> subscriber."""

from __future__ import annotations

from pathlib import Path

from passerelle.daemon.broker import PrivateBroker
from passerelle.simulators.scanner.hid_sim import HidScannerSimulator
from passerelle.simulators.scanner.serial_sim import SerialScannerSimulator
from passerelle.testing.support import base_config, collect, inprocess_daemon

UDI = "]d20109350750001231112405011727043010M24A117\x1d21FX2041337"
RPPS = "]C010101234564"


async def test_scans_from_both_simulators_arrive_once_on_the_scan_topic(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    hid = HidScannerSimulator(tmp_path / "hid.fifo", layout="fr", gs_mode="alt")
    hid.create()
    with SerialScannerSimulator(tmp_path / "ttyscan") as serial_sim:
        config = base_config(
            broker.port,
            tmp_path / "state",
            scanner={
                "devices": [
                    {"id": "counter-hid", "driver": "hid", "path": str(hid.path), "layout": "fr"},
                    {"id": "counter-serial", "driver": "serial", "path": str(serial_sim.link)},
                ]
            },
        )
        async with (
            collect(broker.host, broker.port, "passerelle/test/#") as mqtt,
            inprocess_daemon(config),
        ):
            await mqtt.wait_for(
                lambda ms: any(
                    m.topic == "passerelle/test/counter-hid/availability" and m.json()["state"] == "online"
                    for m in ms
                ),
                what="hid scanner online",
            )
            await hid.connect()
            await hid.scan(UDI)
            await serial_sim.scan(RPPS)
            udi = await mqtt.wait_for_event("passerelle.scan/1", lambda e: e["device"]["id"] == "counter-hid")
            rpps = await mqtt.wait_for_event(
                "passerelle.scan/1", lambda e: e["device"]["id"] == "counter-serial"
            )
            hid.close()

    assert udi["data"]["raw"] == UDI
    assert udi["data"]["gtin"] == "09350750001231"
    assert udi["data"]["lot"] == "M24A117"
    assert udi["data"]["serial"] == "FX2041337"
    assert udi["data"]["expiry"] == "2027-04-30"
    assert udi["device"] == {**udi["device"], "family": "scanner", "driver": "hid"}
    assert rpps["data"]["kind"] == "rpps"
    assert rpps["data"]["identifier"] == "10101234564"
    on_scan_topic = [m.json() for m in mqtt.on("passerelle/test/scan")]
    assert [e["data"]["raw"] for e in on_scan_topic].count(UDI) == 1
    assert [e["data"]["raw"] for e in on_scan_topic].count(RPPS) == 1
    assert all(not m.retain for m in mqtt.on("passerelle/test/scan"))
