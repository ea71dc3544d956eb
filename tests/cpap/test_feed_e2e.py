"""End to end: cards dropped in a watched folder -> the daemon -> a real Mosquitto."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from passerelle.daemon.broker import PrivateBroker
from passerelle.drivers.cpap.events import DAY_SCHEMA, IMPORT_SCHEMA, PERIOD_SCHEMA, RENEWAL_SCHEMA
from passerelle.simulators.cpap.card import write_card
from passerelle.simulators.cpap.mutate import forge
from passerelle.simulators.cpap.profile import BUILTIN
from passerelle.testing.support import MqttCollector, base_config, collect, inprocess_daemon, wait_until

SERIAL_A = "23201234567"
SERIAL_B = "23201234568"


def config(broker: PrivateBroker, tmp_path: Path, media: Path, exports: Path) -> dict[str, Any]:
    cpap = {
        "devices": [
            {"id": "counter-sd", "kind": "sdcard", "path": str(media), "settle_seconds": 0.1},
            {"id": "cloud-exports", "kind": "export", "path": str(exports), "settle_seconds": 0.1},
        ],
        "prescriptions": [
            {"device_serial": SERIAL_A, "end": (date.today() + timedelta(days=90)).isoformat()}
        ],
    }
    return base_config(broker.port, tmp_path / "state", cpap=cpap)


def of(events: list[dict[str, Any]], serial: str) -> list[dict[str, Any]]:
    return [e for e in events if e["data"].get("device_serial") == serial]


def channel(seen: MqttCollector) -> list[dict[str, Any]]:
    """Events on the observance channel (the retained state topic repeats the renewal)."""
    return [m.json() for m in seen.on("passerelle/test/observance")]


async def test_card_dropped_in_watched_folder_yields_days_periods_renewal(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    media, exports, staging = tmp_path / "media", tmp_path / "exports", tmp_path / "staging"
    card_a = write_card(replace(BUILTIN["good"], days=130), staging / "a-card")
    card_b = write_card(replace(BUILTIN["borderline"], days=60), staging / "b-card")
    media.mkdir()  # the mount point exists before the card (the driver would make it, but maybe later)
    async with (
        collect(broker.host, broker.port, "passerelle/test/#") as seen,
        inprocess_daemon(config(broker, tmp_path, media, exports)),
    ):
        os.replace(card_a.root, media / "a-card")  # the card "appears" like a mount
        renewal = await seen.wait_for_event(RENEWAL_SCHEMA, lambda e: e["data"]["device_serial"] == SERIAL_A)
        await seen.wait_for_event(IMPORT_SCHEMA, lambda e: e["data"]["status"] == "finished")
        days = of(seen.events(DAY_SCHEMA), SERIAL_A)
        assert [d["data"]["date"] for d in days] == [n.day.isoformat() for n in card_a.nights]
        assert [d["data"]["usage_minutes"] for d in days] == [n.usage_minutes for n in card_a.nights]
        periods = of(seen.events(PERIOD_SCHEMA), SERIAL_A)
        assert [p["data"]["index"] for p in periods] == [0, 1, 2, 3]  # 130 days: 4 complete periods
        assert all(p["data"]["complete"] for p in periods)
        assert periods[0]["data"]["minutes"] == sum(n.usage_minutes for n in card_a.nights[:28])
        assert renewal["data"]["status"] == "insufficient_history"
        assert renewal["data"]["prescription_alert"] == "due_soon"
        assert renewal["device"]["id"] == "cpap-23201234567"
        topics = {m.topic for m in seen.messages if b'"schema":"passerelle.observance' in m.payload}
        assert topics == {"passerelle/test/observance", "passerelle/test/cpap-23201234567/state"}
        published = len(channel(seen))

        # The same card again (removed and re-inserted), then another card as a sentinel.
        os.replace(media / "a-card", staging / "a-again")
        shutil.copytree(staging / "a-again", media / "a-card")
        os.replace(card_b.root, media / "b-card")
        await seen.wait_for_event(RENEWAL_SCHEMA, lambda e: e["data"]["device_serial"] == SERIAL_B)
        await seen.wait_for(lambda m: len(seen.events(IMPORT_SCHEMA)) >= 4, 10, "the second import to finish")
        assert len(of(seen.events(DAY_SCHEMA), SERIAL_A)) == len(card_a.nights)  # nothing new for A
        assert len(of(channel(seen), SERIAL_A)) == len(days) + len(periods) + 1
        assert len(channel(seen)) > published

        # An export file with a bad row: imported, the bad line reported.
        assert card_b.csv_path is not None
        text = card_b.csv_path.read_text().splitlines()
        text.insert(5, f"{SERIAL_B};PAT-0001;31/02/2026;5,00;1,0;10,0")
        (staging / "export.csv").write_text("\n".join(text) + "\n")
        os.replace(staging / "export.csv", exports / "export.csv")
        finished = await seen.wait_for_event(
            IMPORT_SCHEMA,
            lambda e: e["data"]["source"] == "cloud-exports" and e["data"]["status"] == "finished",
        )
        assert [(p["code"], p["line"]) for p in finished["data"]["problems"]] == [("csv_bad_row", 6)]
        # Each source keeps its own ledger: the export's days are published once, with the
        # patient reference in the payload only.
        assert finished["data"]["days_new"] == len(card_b.nights)
        exported = [e for e in channel(seen) if e["data"].get("source") == "export"]
        assert len(exported) == len(card_b.nights)
        assert {e["data"]["patient_ref"] for e in exported} == {"PAT-0001"}
        from_card = [e for e in of(channel(seen), SERIAL_B) if e["data"].get("source") == "sdcard"]
        assert len(from_card) == len(card_b.nights)
        assert not {e["event_id"] for e in from_card} & {e["event_id"] for e in exported}
    # No patient reference in any topic.
    assert not any("PAT-" in m.topic for m in seen.messages)


async def test_restart_with_the_same_card_publishes_nothing_new(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    media, exports, staging = tmp_path / "media", tmp_path / "exports", tmp_path / "staging"
    write_card(replace(BUILTIN["good"], days=60), media / "a-card", with_csv=False)
    card_b = write_card(replace(BUILTIN["borderline"], days=30), staging / "b-card", with_csv=False)
    cfg = config(broker, tmp_path, media, exports)
    async with collect(broker.host, broker.port, "passerelle/test/observance") as seen:
        async with inprocess_daemon(cfg):
            await seen.wait_for_event(RENEWAL_SCHEMA)
            await seen.wait_for_event(IMPORT_SCHEMA, lambda e: e["data"]["status"] == "finished")
        first = len(channel(seen))
        async with inprocess_daemon(cfg):
            os.replace(card_b.root, media / "b-card")
            await seen.wait_for_event(RENEWAL_SCHEMA, lambda e: e["data"]["device_serial"] == SERIAL_B)
            await seen.wait_for(lambda m: len(seen.events(IMPORT_SCHEMA)) >= 4, 10, "import finished")
        assert len(of(channel(seen), SERIAL_A)) == len(of(channel(seen)[:first], SERIAL_A))
        assert len(of(channel(seen), SERIAL_B)) > 0


async def test_forged_card_through_the_daemon(
    broker: PrivateBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A record forged with its checksum recomputed: the period event names the day it left out,
    the import event carries the problem, and the log says which kind."""
    media, exports, staging = tmp_path / "media", tmp_path / "exports", tmp_path / "staging"
    card = write_card(replace(BUILTIN["poor"], days=30, datalog_nights=0), staging / "card", with_csv=False)
    used = next(i for i, n in enumerate(card.nights) if n.usage_minutes)
    path = card.root / "STR.edf"
    path.write_bytes(forge(path.read_bytes(), used, "Duration", [32767]))
    (card.root / "STR.crc").unlink()
    caplog.set_level(logging.INFO, logger="passerelle.drivers.cpap")
    async with (
        collect(broker.host, broker.port, "passerelle/test/#") as seen,
        inprocess_daemon(config(broker, tmp_path, media, exports)),
    ):
        os.replace(card.root, media / "card")
        finished = await seen.wait_for_event(IMPORT_SCHEMA, lambda e: e["data"]["status"] == "finished")
        period = seen.events(PERIOD_SCHEMA)[0]["data"]
        # The driver logs once the core has stored every event, which may be after they arrive.
        await wait_until(
            lambda: any(
                "implausible_day=1" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
            ),
            10,
            "the import's warning",
        )
    day = card.nights[used].day.isoformat()
    assert [x["date"] for x in period["days_excluded"]] == [day]
    assert (
        period["minutes"] == sum(n.usage_minutes for n in card.nights[:28]) - card.nights[used].usage_minutes
    )
    assert period["tier"] == "TL3"
    assert [(p["code"], p["message"][:10]) for p in finished["data"]["problems"]] == [
        ("implausible_day", day)
    ]
    assert day not in [e["data"]["date"] for e in seen.events(DAY_SCHEMA)]
