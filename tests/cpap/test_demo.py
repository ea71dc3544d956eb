"""The family demo: a generated card "inserted" into a watched folder shows observance events."""

from __future__ import annotations

from pathlib import Path

from passerelle.daemon.broker import PrivateBroker
from passerelle.drivers.cpap import FAMILY
from passerelle.drivers.cpap.events import IMPORT_SCHEMA, PERIOD_SCHEMA, RENEWAL_SCHEMA
from passerelle.simulators.cpap.hooks import SIMULATOR
from passerelle.testing.support import base_config, collect, inprocess_daemon


async def test_demo_inserts_a_card_and_drops_an_export(broker: PrivateBroker, tmp_path: Path) -> None:
    async with SIMULATOR.demo(tmp_path / "demo") as section:
        assert section is not None
        config = base_config(broker.port, tmp_path / "state", cpap=section)
        async with (
            collect(broker.host, broker.port, "passerelle/test/observance") as seen,
            inprocess_daemon(config),
        ):
            renewal = await seen.wait_for_event(RENEWAL_SCHEMA, timeout=20)
            assert renewal["data"]["status"] == "eligible"
            assert len(seen.events(PERIOD_SCHEMA)) >= 13
            await seen.wait_for_event(
                IMPORT_SCHEMA, lambda e: e["data"]["source"] == "cloud-exports", timeout=20
            )


def test_doctor_checks_the_folders(tmp_path: Path) -> None:
    from passerelle.drivers.cpap.config import CpapSection

    section = CpapSection.model_validate({"devices": [{"id": "sd", "path": str(tmp_path / "missing")}]})
    checks = {c.name: c for c in FAMILY.doctor(section)}
    assert checks["cpap: edfio"].ok
    assert not checks["cpap: sd folder"].ok
    assert checks["cpap: sd folder"].fix is not None
