"""The ``[card]`` configuration section."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from passerelle.daemon.family import ConfigModel, FamilySection
from passerelle.drivers.card.atr import READABLE_CARDS, CardType
from passerelle.drivers.nir import NirMode as NirMode  # re-exported: card settings name it here


class PcscSource(ConfigModel):
    """One PC/SC service to watch. libpcsclite reads the socket path once per process, so a daemon
    can only talk to one pcscd: this list holds at most one entry."""

    name: str = Field(default="pcsc", pattern=r"^[a-z0-9-]+$")
    pcsc_socket: Path | None = Field(
        default=None, description="pcscd client socket (PCSCLITE_CSOCK_NAME); default: the system one"
    )


class PublicDataPolicy(ConfigModel):
    """Opt-in reading of the public data of cards. Off unless a reader or a card type is listed."""

    readers: list[str] = Field(
        default_factory=list, description="reader device ids (shell patterns allowed) whose cards are read"
    )
    card_types: list[CardType] = Field(
        default_factory=list, description="card types read in any reader (vitale2, cps3, cps4…)"
    )

    def allows(self, reader_id: str, card_type: CardType) -> bool:
        if card_type not in READABLE_CARDS:
            return False  # nothing public to read on other cards
        if card_type in self.card_types:
            return True
        return any(fnmatch.fnmatchcase(reader_id, pattern) for pattern in self.readers)


class CardSection(FamilySection):
    devices: list[PcscSource] = Field(default_factory=lambda: [PcscSource()], max_length=1)
    read_public_data: PublicDataPolicy = Field(default_factory=PublicDataPolicy)
    nir_mode: NirMode = NirMode.REDACT
    nir_salt: SecretStr | None = Field(default=None, description="required when nir_mode = hash")
    status_wait_ms: int = Field(default=2000, ge=50, le=60000, description="SCardGetStatusChange timeout")
    read_timeout_s: float = Field(default=3.0, gt=0, le=30, description="budget for one public data read")
    reconnect_initial_s: float = Field(default=0.2, gt=0, le=10)
    reconnect_max_s: float = Field(default=5.0, gt=0, le=300)

    @model_validator(mode="after")
    def _backoff_in_order(self) -> CardSection:
        if self.reconnect_initial_s > self.reconnect_max_s:
            raise ValueError("reconnect_initial_s must not be above reconnect_max_s")
        return self

    @model_validator(mode="after")
    def _salt_for_hash(self) -> CardSection:
        if self.nir_mode is NirMode.HASH and (self.nir_salt is None or not self.nir_salt.get_secret_value()):
            raise ValueError("nir_mode = hash needs a non-empty nir_salt")
        return self
