"""How every MQTT client of ours reaches the configured broker: the daemon's publisher, and the
``tail`` and ``demo`` viewers, which must pass the same credentials and TLS checks."""

from __future__ import annotations

import ssl
from typing import Any

import aiomqtt

from passerelle.daemon.config import MqttSettings, TlsSettings
from passerelle.daemon.servers import Server


def tls_context(tls: TlsSettings) -> ssl.SSLContext | None:
    if not tls.enabled:
        return None
    context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    if tls.cert_file is not None:
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def password(settings: MqttSettings) -> str | None:
    """The configured password, or the first line of ``password_file`` (read at each connection, so a
    rotated credential needs no restart; an unreadable file fails the attempt like a refused login)."""
    if settings.password is not None:
        return settings.password.get_secret_value()
    if settings.password_file is not None:
        try:
            lines = settings.password_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise aiomqtt.MqttError(f"cannot read mqtt.password_file: {exc}") from None
        return lines[0] if lines else ""
    return None


def connection_options(
    settings: MqttSettings, tls: ssl.SSLContext | None, server: Server | None = None
) -> dict[str, Any]:
    """Keyword arguments of ``aiomqtt.Client`` for the broker, its protocol, credentials and TLS.

    ``server`` (default: the first of ``mqtt.servers``) is also the name TLS verifies: paho checks the
    certificate against the host it connects to, so each node of a cluster is checked by its own name."""
    target = server or settings.server_list()[0]
    return {
        "hostname": target.host,
        "port": target.port,
        "username": settings.username,
        "password": password(settings),
        "protocol": aiomqtt.ProtocolVersion.V5 if settings.protocol == "5" else aiomqtt.ProtocolVersion.V311,
        "tls_context": tls,
    }


def payload_bytes(message: aiomqtt.Message) -> bytes:
    """aiomqtt types a payload as bytes, str, numbers or None; ours are always bytes on the wire."""
    payload = message.payload
    return payload if isinstance(payload, bytes) else str(payload or "").encode()
