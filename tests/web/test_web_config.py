"""The ``[web]`` section: loopback unless encrypted or explicitly insecure, environment overrides."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from passerelle.daemon.broker import PrivateBroker
from passerelle.daemon.config import ConfigError, load_config
from passerelle.daemon.family import load_families
from passerelle.testing.support import base_config, inprocess_daemon
from tests.web.helpers import free_port, listening_addresses


def test_a_non_loopback_host_needs_tls_or_an_explicit_insecure_opt_in(tmp_path: Path) -> None:
    families, _ = load_families()
    config = base_config(1883, tmp_path, web={"host": "0.0.0.0"})
    with pytest.raises(ConfigError) as refused:
        load_config(None, families, overrides=config)
    assert any(line.startswith("web.host: not a loopback address") for line in refused.value.problems)
    half_tls = base_config(1883, tmp_path, web={"tls_cert_file": str(tmp_path / "cert.pem")})
    with pytest.raises(ConfigError):
        load_config(None, families, overrides=half_tls)
    insecure = base_config(1883, tmp_path, web={"host": "0.0.0.0", "insecure_non_loopback": True})
    assert load_config(None, families, overrides=insecure).settings.web.host == "0.0.0.0"


def test_environment_overrides_port_token_and_origins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSERELLE_WEB__PORT", "8801")
    monkeypatch.setenv("PASSERELLE_WEB__TOKEN", "from-env")
    monkeypatch.setenv("PASSERELLE_WEB__ALLOWED_ORIGINS", '["https://billing.example"]')
    families, _ = load_families()
    config = base_config(1883, tmp_path)
    config.pop("web")
    web = load_config(None, families, overrides=config).settings.web
    assert web.port == 8801 and web.allowed_origins == ["https://billing.example"]
    assert web.token is not None and web.token.get_secret_value() == "from-env"


async def test_the_insecure_opt_in_warns_at_every_start(
    broker: PrivateBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    config = base_config(
        broker.port, tmp_path, web={"host": "0.0.0.0", "insecure_non_loopback": True, "port": port}
    )
    for _ in range(2):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="passerelle.daemon.web.server"):
            async with inprocess_daemon(config):
                assert listening_addresses(port) == [f"00000000:{port:04X}"]
        assert any("NOT loopback and NOT encrypted" in r.getMessage() for r in caplog.records)


async def test_a_taken_port_is_a_health_problem_not_a_stop(broker: PrivateBroker, tmp_path: Path) -> None:
    port = free_port()
    async with (
        inprocess_daemon(base_config(broker.port, tmp_path / "one", web={"port": port})),
        inprocess_daemon(
            base_config(broker.port, tmp_path / "two", web={"port": port}, station="two")
        ) as second,
    ):
        health = second.health()
        assert health["status"] == "yellow"
        assert any(p.startswith(f"web endpoint 127.0.0.1:{port}:") for p in health["problems"])
        assert health["web"]["listening"] is False
