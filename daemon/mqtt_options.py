"""How every MQTT client of ours reaches the configured broker: the daemon's publisher, and the
``tail`` and ``demo`` viewers, which must pass the same credentials and TLS checks."""

from __future__ import annotations

import ssl
from typing import Any

import aiomqtt

from daemon.config import MqttSettings, TlsSettings


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


def connection_options(settings: MqttSettings, tls: ssl.SSLContext | None) -> dict[str, Any]:
    """Keyword arguments of ``aiomqtt.Client`` for the broker, its protocol, credentials and TLS."""
    return {
        "hostname": settings.host,
        "port": settings.port,
        "username": settings.username,
        "password": settings.password.get_secret_value() if settings.password else None,
        "protocol": aiomqtt.ProtocolVersion.V5 if settings.protocol == "5" else aiomqtt.ProtocolVersion.V311,
        "tls_context": tls,
    }


def payload_bytes(message: aiomqtt.Message) -> bytes:
    """aiomqtt types a payload as bytes, str, numbers or None; ours are always bytes on the wire."""
    payload = message.payload
    return payload if isinstance(payload, bytes) else str(payload or "").encode()
