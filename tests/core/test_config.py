"""Configuration: file, environment, clear problems (never the value), exit 78."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from passerelle.daemon.broker import PrivateBroker
from passerelle.daemon.config import ConfigError, check_config, load_config
from passerelle.daemon.family import load_families
from passerelle.testing.support import DaemonProcess, base_config, collect, to_toml


def passerelle(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "passerelle.daemon.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_config_check_lists_problems_as_dotted_paths_without_values(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        to_toml(
            {
                "station": "Comptoir 1!",
                "mqtt": {
                    "port": 99999,
                    "password": "s3cr3t-value",
                    "protocol": "4",
                    "tls": {"verify": "maybe"},
                },
                "outbox": {"when_full": "explode"},
                "synthetic": {"devices": [{"id": "Bad Id", "rate": -1}]},
            }
        )
    )
    result = passerelle("config", "check", "--config", str(path))
    assert result.returncode == 78
    lines = result.stdout.strip().splitlines()
    paths = {line.split(":", 1)[0] for line in lines}
    assert {"station", "mqtt.port", "mqtt.protocol", "mqtt.tls.verify", "outbox.when_full"} <= paths
    assert "s3cr3t-value" not in result.stdout + result.stderr
    assert "Comptoir 1!" not in result.stdout


def test_family_section_problems_are_reported_with_the_family_prefix(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(to_toml({"synthetic": {"devices": [{"id": "Bad Id", "rate": -1}]}}))
    families, _ = load_families()
    problems = check_config(path, families)
    assert any(p.startswith("synthetic.devices.0.id:") for p in problems)
    assert any(p.startswith("synthetic.devices.0.rate:") for p in problems)


def test_a_mistyped_key_in_any_family_section_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(to_toml({"cpap": {"enabeld": False}, "card": {"read_public_data": {"nir_mode": "hash"}}}))
    families, _ = load_families()
    problems = check_config(path, families)
    assert any(p.startswith("cpap.enabeld:") for p in problems)
    assert any(p.startswith("card.read_public_data.nir_mode:") for p in problems)  # belongs to [card]


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    result = passerelle("config", "check", "--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 78
    assert "does not exist" in result.stdout
    run = passerelle("run", "--config", str(tmp_path / "missing.toml"))
    assert run.returncode == 78


def test_invalid_toml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[mqtt\nhost = ")
    result = passerelle("config", "check", "--config", str(path))
    assert result.returncode == 78
    assert "not valid TOML" in result.stdout


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    path.write_text(to_toml({"station": "from-file", "mqtt": {"host": "file.example", "port": 1884}}))
    monkeypatch.setenv("PASSERELLE_MQTT__PORT", "2883")
    monkeypatch.setenv("PASSERELLE_STATION", "from-env")
    families, _ = load_families()
    settings = load_config(path, families).settings
    assert settings.station == "from-env"
    assert settings.mqtt.port == 2883
    assert settings.mqtt.host == "file.example"
    assert settings.base_topic == "passerelle/from-env"


def test_configuration_directory_is_used_when_no_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.toml").write_text(to_toml({"station": "via-systemd"}))
    monkeypatch.setenv("CONFIGURATION_DIRECTORY", str(tmp_path))
    families, _ = load_families()
    assert load_config(None, families).settings.station == "via-systemd"


def test_unknown_sections_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(to_toml({"mqqt": {"host": "typo"}}))
    families, _ = load_families()
    with pytest.raises(ConfigError) as info:
        load_config(path, families)
    assert any(p.startswith("mqqt:") for p in info.value.problems)


async def test_invalid_family_section_disables_only_that_family(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    config = base_config(broker.port, tmp_path / "state", synthetic={"devices": [{"id": "Bad Id"}]})
    daemon = DaemonProcess(config, tmp_path)
    async with collect(broker.host, broker.port, "passerelle/test/bridge/#") as seen:
        daemon.start()
        await daemon.wait_ready()
        await seen.wait_for(
            lambda m: (
                any(
                    d["family"] == "synthetic"
                    for d in seen.on("passerelle/test/bridge/devices")[-1].json()["disabled"]
                )
                if seen.on("passerelle/test/bridge/devices")
                else False
            ),
            10,
            "synthetic disabled in bridge/devices",
        )
        disabled = [
            d
            for d in seen.on("passerelle/test/bridge/devices")[-1].json()["disabled"]
            if d["family"] == "synthetic"
        ]
        assert "synthetic.devices.0.id" in disabled[0]["reason"]
        assert "Bad Id" not in disabled[0]["reason"]
    assert await daemon.stop() == 0
