"""bridge/info: what the station is, read live (drivers and commands come after construction)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from passerelle.daemon import __version__
from passerelle.daemon.config import CoreSettings
from passerelle.daemon.driver import Driver, DriverItem
from passerelle.daemon.events import LOSS_SCHEMA
from passerelle.daemon.family import Family, FamilyLoadError
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.services.info import BridgeInfo
from passerelle.daemon.topics import Topics
from tests.core.family_support import PlainDriver
from tests.unit.daemon.services.scan_family import ScanFamily

TOPICS = Topics("passerelle/st-1")


class NamedDriver(PlainDriver):
    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def events(self) -> AsyncIterator[DriverItem]:
        return
        yield


def make(drivers: list[Driver], commands: list[str]) -> tuple[BridgeInfo, RetainedStore]:
    family: Family = ScanFamily()
    retained = RetainedStore()
    info = BridgeInfo(
        settings=CoreSettings(station="st-1"),
        topics=TOPICS,
        retained=retained,
        families={"zscan": family},
        family_errors=[FamilyLoadError("card", "ImportError: no pyscard")],
        drivers=drivers,
        family_of={"zscan/desk": family},
        commands=lambda: commands,
    )
    return info, retained


def test_the_report_lists_every_schema_family_and_unavailable_family() -> None:
    info, _ = make([], ["ping"])
    report = info.report()
    assert report["version"] == __version__
    assert report["station"] == "st-1" and report["base_topic"] == "passerelle/st-1"
    assert report["schemas"] == sorted([LOSS_SCHEMA, "test.scan/1"])
    assert report["families"] == ["zscan"]
    assert report["unavailable_families"] == {"card": "ImportError: no pyscard"}
    assert report["config"]["station"] == "st-1"


def test_drivers_and_commands_are_read_when_reporting() -> None:
    drivers: list[Driver] = []
    commands = ["ping"]
    info, _ = make(drivers, commands)
    assert info.report()["drivers"] == []
    drivers.append(NamedDriver("zscan/desk"))  # built after the service
    commands.append("zscan/reread")
    report = info.report()
    assert report["drivers"] == [{"name": "zscan/desk", "family": "zscan"}]
    assert report["commands"] == ["ping", "zscan/reread"]


def test_publish_sets_the_retained_info_topic_as_sorted_json() -> None:
    info, retained = make([], ["ping"])
    info.publish()
    payload = retained.get(TOPICS.info)
    assert payload is not None
    assert json.loads(payload) == info.report()
    assert payload == json.dumps(info.report(), sort_keys=True).encode()


def test_the_info_holds_no_secret() -> None:
    info, _ = make([], [])
    settings = CoreSettings(station="st-1", mqtt={"username": "u", "password": "hunter2"})
    info.settings = settings
    text = json.dumps(info.report())
    assert "hunter2" not in text
    assert info.report()["config"]["mqtt"]["authenticated"] is True
