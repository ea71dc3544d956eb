"""The ``[web]`` configuration section (kept apart from daemon/config.py so that section stays small)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_PORT = 8733
TOKEN_FILE_NAME = "web-token"


class WebSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="serve the browser WebSocket API and the console")
    host: str = Field(
        "127.0.0.1",
        description="listen address; anything but loopback needs tls_cert_file/tls_key_file or "
        "insecure_non_loopback",
    )
    port: int = Field(DEFAULT_PORT, ge=1, le=65535, description="listen port")
    token: SecretStr | None = Field(
        None,
        description="shared secret of browser clients; unset: generated at first start into "
        "<state_directory>/web-token (mode 0600)",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="web origins (scheme://host[:port]) whose pages may connect; the console's own "
        "origin and clients sending no Origin are always allowed",
    )
    tls_cert_file: Path | None = Field(None, description="certificate (PEM) to serve https/wss")
    tls_key_file: Path | None = Field(None, description="private key (PEM) of tls_cert_file")
    insecure_non_loopback: bool = Field(
        False, description="allow a non-loopback host without TLS (logs a warning at every start)"
    )
    journal_max_events: int = Field(
        100_000, ge=0, description="events kept replayable for since= (0: no journal)"
    )
    journal_max_hours: float = Field(24.0, ge=0, description="hours an event stays replayable")
    client_queue: int = Field(
        4096,
        ge=16,
        le=1_000_000,
        description="frames queued for one client before it is closed as too slow (1013); more than "
        "the largest burst of events one commit can carry",
    )

    @field_validator("allowed_origins")
    @classmethod
    def _origins_shape(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if not origin.startswith(("http://", "https://")) or origin.rstrip("/") != origin:
                raise ValueError("each origin is scheme://host[:port], without a path or trailing '/'")
        return origins

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None and self.tls_key_file is not None

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def problems(self) -> list[str]:
        """Contradictions checked with the rest of the configuration (``dotted.path: message``)."""
        lines = []
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            lines.append("web.tls_cert_file: tls_cert_file and tls_key_file go together")
        if not self.loopback and not self.tls and not self.insecure_non_loopback:
            lines.append(
                "web.host: not a loopback address: set tls_cert_file and tls_key_file, "
                "or insecure_non_loopback = true"
            )
        return lines


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
