"""``passerelle station init`` against real brokers: files written with the right modes, a configuration
the daemon runs with, refused credentials named, and bad input refused before anything is written."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

from passerelle.daemon.broker import free_port
from passerelle.testing.support import collect
from tests.core.test_auth import broker_with_acl
from tests.core.test_config_errors import passerelle
from tests.core.test_tls import make_pki, tls_broker

PASSWORD = "s3cret"  # the station user's password in broker_with_acl


def init(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    return subprocess.run(
        [sys.executable, "-m", "passerelle.daemon.cli", "station", "init", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_init_writes_a_working_configuration_and_a_0600_password_file(tmp_path: Path) -> None:
    broker = broker_with_acl(tmp_path / "mq", allow_events=True)
    broker.start()
    try:
        config = tmp_path / "etc" / "config.toml"
        server = f"127.0.0.1:{broker.port}"
        result = init("--station", "test", "--server", server, "--user", "comptoir", "--password-stdin",
                      "--config", str(config), stdin=PASSWORD + "\n")  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"{server}: connected" in result.stdout
        credentials = tmp_path / "etc" / "mqtt-password"
        assert mode(credentials) == 0o600 and credentials.read_text() == PASSWORD + "\n"
        assert PASSWORD not in config.read_text()
        assert passerelle("config", "check", "--config", str(config), env={}).returncode == 0

        # The daemon runs with exactly this file (state and metrics aside, as the unit provides).
        env = {**os.environ, "PASSERELLE_STATE_DIRECTORY": str(tmp_path / "state"),
               "PASSERELLE_METRICS__ENABLED": "false"}  # fmt: skip
        async with collect(broker.host, broker.port, "passerelle/test/bridge/state",
                           username="reader", password="r3ader") as seen:  # fmt: skip
            daemon = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "passerelle.daemon.cli", "run", "--config", str(config), env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            try:
                await seen.wait_for(lambda m: any(x.json() == {"state": "online"} for x in m), 15, "online")
            finally:
                daemon.terminate()
                assert await asyncio.wait_for(daemon.wait(), 20) == 0
    finally:
        broker.close()


def test_refused_credentials_are_named_per_server(tmp_path: Path) -> None:
    broker = broker_with_acl(tmp_path / "mq", allow_events=True)
    broker.start()
    try:
        dead = f"127.0.0.1:{free_port()}"
        server = f"127.0.0.1:{broker.port}"
        secret = tmp_path / "typed-password"
        secret.write_text("wrong-one\n")
        result = init("--station", "test", "--server", dead, "--server", server, "--user", "comptoir",
                      "--password-file", str(secret), "--config", str(tmp_path / "config.toml"))  # fmt: skip
        assert result.returncode == 69, result.stdout + result.stderr
        assert f"{server}: " in result.stdout and "refused this station's credentials" in result.stdout
        assert f"{dead}: " in result.stdout and "refused" in result.stdout.lower()
        assert "wrong-one" not in result.stdout + result.stderr
        assert mode(tmp_path / "mqtt-password") == 0o600  # written: fix the broker side and retry
    finally:
        broker.close()


def test_tls_with_the_ca_given(tmp_path: Path) -> None:
    make_pki(tmp_path / "pki", "good")
    broker, tls_port = tls_broker(tmp_path / "pki", require_client_cert=False)
    with broker:
        config = tmp_path / "config.toml"
        result = init("--station", "test", "--server", f"localhost:{tls_port}", "--ca",
                      str(tmp_path / "pki" / "ca.pem"), "--config", str(config))  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"localhost:{tls_port}: connected" in result.stdout
        assert "[mqtt.tls]" in config.read_text()


def test_bad_input_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    base = ["--config", str(config), "--no-connect"]
    cases = {
        "listed twice": ["--station", "s1", "--server", "a:1883", "--server", "A"],
        "--station:": ["--station", "Bad Id", "--server", "a"],
        "--ca: cannot be read": ["--station", "s1", "--server", "a", "--ca", str(tmp_path / "none.pem")],
        "a password needs --user": ["--station", "s1", "--server", "a", "--password-stdin"],
        "no password": ["--station", "s1", "--server", "a", "--user", "u"],  # stdin is not a terminal
        "the password is empty": ["--station", "s1", "--server", "a", "--user", "u", "--password-stdin"],
    }
    for expected, args in cases.items():
        result = init(*args, *base)
        assert result.returncode == 78, (expected, result.stderr)
        assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert not config.exists() and not (tmp_path / "mqtt-password").exists()

    config.write_text("# the operator's own\n")
    result = init("--station", "s1", "--server", "a", *base)
    assert result.returncode == 73 and "use --force" in result.stderr
    assert config.read_text() == "# the operator's own\n"
    assert init("--station", "s1", "--server", "a", "--force", *base).returncode == 0
    assert 'servers = ["a"]' in config.read_text()
