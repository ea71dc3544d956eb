"""The identity generator's files: private, loadable by each engine's own format, usable by a station."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from passerelle.daemon.config import load_config
from passerelle.daemon.family import load_families
from passerelle.daemon.fleet_identity import identities, main


def test_generator_writes_private_files_a_station_can_load(tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    assert (
        main(["--station", "counter-1", "--station", "counter-2", "--consumer", "billing", "--out", str(out)])
        == 0
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "billing.credentials.toml", "counter-1.credentials.toml", "counter-2.credentials.toml",
        "dynsec-admin.credentials.toml", "mosquitto-dynamic-security.json", "nats-authorization.conf",
        "rabbitmq-definitions.json",
    ]  # fmt: skip
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    families, _ = load_families()
    loaded = load_config(out / "counter-1.credentials.toml", families, overrides={"station": "counter-1"})
    assert loaded.settings.mqtt.username == "counter-1" and loaded.settings.mqtt.password is not None
    password = loaded.settings.mqtt.password.get_secret_value()
    # Engines keep hashes only: the password is in the station's file and nowhere else.
    for engine_file in ("mosquitto-dynamic-security.json", "rabbitmq-definitions.json"):
        assert password not in (out / engine_file).read_text()
    definitions = json.loads((out / "rabbitmq-definitions.json").read_text())
    assert {u["name"] for u in definitions["users"]} == {"counter-1", "counter-2", "billing"}


@pytest.mark.parametrize("names", [["a/b"], ["+"], ["#"], ["Counter"], ["dup", "dup"]])
def test_names_that_could_widen_a_topic_filter_are_refused(names: list[str]) -> None:
    with pytest.raises(ValueError, match=r"user name must match|its own name"):
        identities(names, [])
