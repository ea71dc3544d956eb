"""The ``[scanner]`` configuration section."""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator

from passerelle.daemon.family import ConfigModel, FamilySection
from passerelle.drivers.nir import NirMode
from passerelle.drivers.scanner.decode import DEFAULT_GS_STAND_INS
from passerelle.drivers.scanner.rules import (
    DEFAULT_APCV_PATTERNS,
    DEFAULT_E_PRESCRIPTION_PATTERNS,
    ScanRules,
    compile_patterns,
)

USB_ID = r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$"

TERMINATOR_CHARS = {"cr": ("\r", "\n"), "lf": ("\r", "\n"), "crlf": ("\r", "\n"), "tab": ("\t",), "none": ()}


class ScannerDevice(ConfigModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="device id, appears in topics")
    driver: Literal["hid", "serial"]
    path: str | None = Field(
        None,
        description="event node, /dev/input/by-id/… or /dev/serial/by-id/… symlink, tty, or (simulator) "
        "a FIFO/file of input_event records",
    )
    usb: str | None = Field(None, pattern=USB_ID, description="VID:PID, when no path is given")
    model: str | None = "Inateck BCST-52"
    layout: Literal["us", "fr"] = Field("us", description="HID: keyboard language set on the scanner")
    terminator: Literal["cr", "lf", "crlf", "tab", "none"] = Field(
        "cr", description="suffix the scanner sends; cr/lf/crlf all end a scan on CR or LF"
    )
    idle_flush_ms: int = Field(100, ge=10, le=5000, description="end a scan after this gap without data")
    baud: int = Field(9600, ge=300, le=4_000_000, description="serial only; ignored by USB CDC")
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: Literal[1, 2] = 1
    grab: bool = Field(True, description="HID: exclusive grab so scans never type into other windows")
    min_length: int = Field(3, ge=1, description="HID: shorter fragments are dropped as human typing")
    max_length: int = Field(4096, ge=16, le=65536)
    gs_stand_ins: list[str] = Field(default_factory=lambda: list(DEFAULT_GS_STAND_INS))
    publish_nir: bool = Field(
        False, description="this device publishes NIRs in clear whatever [scanner] nir_mode says (legacy)"
    )
    reopen_interval_s: float = Field(1.0, gt=0, le=60, description="retry period while unplugged")

    @model_validator(mode="after")
    def _has_a_source(self) -> Self:
        if not self.path and not self.usb:
            raise ValueError("give 'path' or 'usb' (VID:PID)")
        return self


class ScannerSection(FamilySection):
    devices: list[ScannerDevice] = Field(default_factory=list)
    usb_ids: list[str] = Field(
        default_factory=list,
        description="VID:PID of the scanners in use, for `passerelle devices` and doctor",
    )
    nir_mode: NirMode = Field(
        NirMode.REDACT, description="NIRs found anywhere in a scan: redact, hash (HMAC, nir_salt) or clear"
    )
    nir_salt: SecretStr | None = Field(default=None, description="required when nir_mode = hash")
    e_prescription_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_E_PRESCRIPTION_PATTERNS),
        description="regexes (full match) of the ordonnance numérique QR content; defaults unverified",
    )
    apcv_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_APCV_PATTERNS),
        description="regexes (full match) of the appli carte Vitale QR content; defaults unverified",
    )

    def rules(self) -> ScanRules:
        return ScanRules(
            nir_mode=self.nir_mode,
            nir_salt=self.nir_salt.get_secret_value() if self.nir_salt else None,
            e_prescription=compile_patterns(self.e_prescription_patterns),
            apcv=compile_patterns(self.apcv_patterns),
        )

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [d.id for d in self.devices]
        if len(ids) != len(set(ids)):
            raise ValueError("device ids must be unique")
        for usb_id in self.usb_ids:
            ScannerUsbId.model_validate({"value": usb_id})
        if self.nir_mode is NirMode.HASH and (self.nir_salt is None or not self.nir_salt.get_secret_value()):
            raise ValueError("nir_mode = hash needs a non-empty nir_salt")
        for pattern in [*self.e_prescription_patterns, *self.apcv_patterns]:
            try:
                compile_patterns([pattern])
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from exc
        return self


class ScannerUsbId(BaseModel):
    value: str = Field(pattern=USB_ID)
