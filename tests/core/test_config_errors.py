"""Configuration errors stop ``run`` exactly like ``config check``: exit 78 (systemd does not restart),
one ``dotted.path: message`` line each, never the configured value and never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from passerelle.daemon.broker import free_port
from passerelle.daemon.family import load_families
from passerelle.testing.support import base_config, to_toml

SECRET = "s3cr3t-value"


@dataclass(frozen=True)
class Case:
    """A broken configuration: what the file holds, the environment, and the dotted paths reported."""

    write: Callable[[Path], None]
    paths: set[str]
    env: dict[str, str] = field(default_factory=dict)


def config_with(tmp: Path, **extra: Any) -> str:
    config = base_config(free_port(), tmp / "state", **extra)
    return to_toml(config)


def toml_file(**extra: Any) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(config_with(path.parent, **extra))

    return write


def raw_file(content: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(content)

    return write


def with_tls(files: Callable[[Path], dict[str, str]]) -> Callable[[Path], None]:
    """A config with TLS on and the files ``files(config_dir)`` names."""

    def write(path: Path) -> None:
        mqtt = {"host": "127.0.0.1", "port": free_port(), "tls": {"enabled": True, **files(path.parent)}}
        path.write_text(config_with(path.parent, mqtt=mqtt))

    return write


def not_pem(path: Path) -> str:
    path.write_text(f"password = {SECRET}\n")
    return str(path)


CASES: dict[str, Case] = {
    "binary file": Case(raw_file(b"\x00\x01\xff\xfe\x89PNG\r\n" + bytes(range(256))), {"config"}),
    "latin-1 file": Case(raw_file(f'station = "caf\xe9"\nx = "{SECRET}"\n'.encode("latin-1")), {"config"}),
    "env table not json": Case(toml_file(), {"mqtt"}, {"PASSERELLE_MQTT": "{" + SECRET}),
    "env nested table not json": Case(toml_file(), {"mqtt.tls"}, {"PASSERELLE_MQTT__TLS": SECRET}),
    "env family section not json": Case(toml_file(), {"synthetic"}, {"PASSERELLE_SYNTHETIC": f"[{SECRET}"}),
    "reconnect min above max": Case(
        toml_file(mqtt={"host": "127.0.0.1", "reconnect_min_seconds": 5.0, "reconnect_max_seconds": 1.0}),
        {"mqtt.reconnect_max_seconds"},
    ),
    "reconnect min above the default max": Case(
        toml_file(), {"mqtt.reconnect_max_seconds"}, {"PASSERELLE_MQTT__RECONNECT_MIN_SECONDS": "31"}
    ),
    "device id bridge": Case(
        toml_file(synthetic={"devices": [{"id": "bridge"}]}), {"synthetic.devices.0.id"}
    ),
    "device id of a channel": Case(
        toml_file(synthetic={"devices": [{"id": "ok-1"}, {"id": "scan"}, {"id": "card-data"}]}),
        {"synthetic.devices.1.id", "synthetic.devices.2.id"},
    ),
    "device id twice across families": Case(
        toml_file(
            scanner={"devices": [{"id": "counter-1", "driver": "hid", "path": "/dev/null"}]},
            synthetic={"devices": [{"id": "counter-1"}]},
            cpap={"devices": [{"id": "counter-1", "path": "/nonexistent/cpap"}]},
        ),
        {"scanner.devices.0.id", "synthetic.devices.0.id"},  # cpap, the first family, keeps it,
    ),
    "tls ca file missing": Case(
        with_tls(lambda d: {"ca_file": str(d / "missing.pem")}), {"mqtt.tls.ca_file"}
    ),
    "tls ca file is a directory": Case(with_tls(lambda d: {"ca_file": str(d)}), {"mqtt.tls.ca_file"}),
    "tls ca file not a certificate": Case(
        with_tls(lambda d: {"ca_file": not_pem(d / "ca.pem")}), {"mqtt.tls.ca_file"}
    ),
    "section of a family not installed": Case(toml_file(thermometer={"devices": []}), {"thermometer"}),
    "tls key without certificate": Case(with_tls(lambda d: {"key_file": not_pem(d / "k.pem")}), {"mqtt.tls"}),
}


def passerelle(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    return subprocess.run(
        [sys.executable, "-m", "passerelle.daemon.cli", *args],
        capture_output=True,
        text=True,
        timeout=30,  # the bug this guards against is a daemon that never stops
        env={**clean, **env},
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_run_and_config_check_both_exit_78_with_dotted_paths(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    path = tmp_path / "config.toml"
    case.write(path)
    check = passerelle("config", "check", "--config", str(path), env=case.env)
    run = passerelle("run", "--config", str(path), env=case.env)
    for result, lines in ((check, check.stdout), (run, run.stderr)):
        assert result.returncode == 78, result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        assert SECRET not in result.stdout + result.stderr
        reported = {line.split(":", 1)[0] for line in lines.strip().splitlines()}
        assert case.paths <= reported, lines
    assert "READY" not in run.stderr


def test_a_section_of_an_uninstalled_family_names_the_entry_point(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    toml_file(thermometer={"devices": []})(path)
    expected = (
        'thermometer: no device family "thermometer" is installed (entry point group passerelle.families); '
        f"installed: {', '.join(sorted(load_families()[0]))}"
    )
    check = passerelle("config", "check", "--config", str(path), env={})
    run = passerelle("run", "--config", str(path), env={})
    assert (check.returncode, run.returncode) == (78, 78)
    assert check.stdout.strip() == expected
    assert run.stderr.strip() == expected
