"""TLS to the broker: verified by default, refused with the wrong CA, and mutual TLS."""

from __future__ import annotations

import subprocess
from pathlib import Path

from passerelle.daemon.broker import PrivateBroker, free_port
from passerelle.testing.support import DaemonProcess, base_config, collect, wait_until


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d: Path, name: str) -> None:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by it."""
    d.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name} CA",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=d)  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for who in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={who}", "-keyout", f"{who}.key",
                "-out", f"{who}.csr", cwd=d)  # fmt: skip
        openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", "san.ext", "-out", f"{who}.pem", cwd=d)  # fmt: skip


def tls_broker(pki: Path, require_client_cert: bool) -> tuple[PrivateBroker, int]:
    tls_port = free_port()
    extra = [
        f"listener {tls_port} 127.0.0.1",
        f"cafile {pki / 'ca.pem'}",
        f"certfile {pki / 'server.pem'}",
        f"keyfile {pki / 'server.key'}",
        f"require_certificate {'true' if require_client_cert else 'false'}",
        "allow_anonymous true",
    ]
    return PrivateBroker(extra_config=extra), tls_port


def tls_daemon(tmp_path: Path, tls_port: int, tls: dict[str, object]) -> DaemonProcess:
    mqtt = {"host": "127.0.0.1", "port": tls_port, "tls": tls}
    return DaemonProcess(base_config(tls_port, tmp_path / "state", mqtt=mqtt), tmp_path / "daemon")


async def test_tls_with_verification_and_client_certificate(tmp_path: Path) -> None:
    make_pki(tmp_path / "pki", "good")
    pki = tmp_path / "pki"
    broker, tls_port = tls_broker(pki, require_client_cert=True)
    with broker:
        tls = {"enabled": True, "ca_file": str(pki / "ca.pem"), "cert_file": str(pki / "client.pem"),
               "key_file": str(pki / "client.key")}  # fmt: skip
        daemon = tls_daemon(tmp_path, tls_port, tls)
        async with collect(broker.host, broker.port, "passerelle/test/bridge/state") as seen:
            daemon.start()
            await daemon.wait_ready()
            await seen.wait_for(
                lambda m: bool(m) and m[-1].json() == {"state": "online"}, 10, "online over TLS"
            )
            assert await daemon.stop() == 0


async def test_a_broker_certificate_from_another_ca_is_refused(tmp_path: Path) -> None:
    make_pki(tmp_path / "pki", "good")
    make_pki(tmp_path / "other", "other")
    broker, tls_port = tls_broker(tmp_path / "pki", require_client_cert=False)
    with broker:
        tls = {"enabled": True, "ca_file": str(tmp_path / "other" / "ca.pem")}
        daemon = tls_daemon(tmp_path, tls_port, tls)
        daemon.start()
        await daemon.wait_ready()
        await wait_until(lambda: "CERTIFICATE_VERIFY_FAILED" in daemon.log(), 10, "a verification failure")
        assert await daemon.stop() == 0


async def test_disabling_verification_is_loud(tmp_path: Path) -> None:
    make_pki(tmp_path / "pki", "good")
    make_pki(tmp_path / "other", "other")
    broker, tls_port = tls_broker(tmp_path / "pki", require_client_cert=False)
    with broker:
        tls = {"enabled": True, "ca_file": str(tmp_path / "other" / "ca.pem"), "verify": False}
        daemon = tls_daemon(tmp_path, tls_port, tls)
        async with collect(broker.host, broker.port, "passerelle/test/bridge/state") as seen:
            daemon.start()
            await daemon.wait_ready()
            await seen.wait_for(lambda m: bool(m) and m[-1].json() == {"state": "online"}, 10, "online")
        assert "verification is DISABLED" in daemon.log()
        assert await daemon.stop() == 0
