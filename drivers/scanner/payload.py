"""The normalized scan payload: the ``data`` of every ``passerelle.scan/1`` event.

Consumers (billing and traceability software) rely on these field names and on the problem codes
staying stable; a breaking change bumps the schema id.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

SCAN_SCHEMA = "passerelle.scan/1"

Kind = Literal[
    "gs1",
    "hibc",
    "cip13",
    "acl13",
    "ucd13",
    "ean13",
    "ean8",
    "upc_a",
    "gtin14",
    "e_prescription",
    "apcv",
    "rpps",
    "finess",
    "two_d_doc",
    "iso15434",
    "iccbba",
    "url",
    "text",
]


class Problem(StrEnum):
    """Stable problem codes. Add new codes; never rename or reuse one."""

    CHECK_DIGIT_INVALID = "check_digit_invalid"
    MISSING_SEPARATOR_SUSPECTED = "missing_separator_suspected"
    INVALID_DATE = "invalid_date"
    UNKNOWN_AI = "unknown_ai"
    INVALID_FORMAT = "invalid_format"
    NOT_UTF8 = "not_utf8"
    TRUNCATED = "truncated"  # the source ended or was cut mid-scan (EOF, unplug, oversize)
    EMPTY = "empty"
    TERMINATOR_MISSING = "terminator_missing"  # ended by the idle gap, not by CR/LF/Tab
    EVENTS_DROPPED = "events_dropped"  # the kernel reported SYN_DROPPED during the scan
    UNMAPPED_KEY = "unmapped_key"  # a key the layout cannot turn into a character
    TOO_LONG = "too_long"  # longer than the configured maximum; the rest was discarded
    CONTROL_CHARACTER = "control_character"  # an unexpected control character in the data
    # GS1 syntax (rules from the GS1 Barcode Syntax Dictionary):
    INVALID_CHARACTER = "invalid_character"  # outside the field's character set (CSET 82, digits…)
    INVALID_LENGTH = "invalid_length"  # a value or a whole code too short or too long for its kind
    INVALID_VALUE = "invalid_value"  # a field's content breaks its rule (zero piece number, bad flag…)
    REQUIRED_AI_MISSING = "required_ai_missing"  # an AI without the AI(s) GS1 requires with it
    EXCLUDED_AI_PAIR = "excluded_ai_pair"  # two AIs that GS1 forbids in one message (01 with 02…)
    REPEATED_AI_CONFLICT = "repeated_ai_conflict"  # the same AI twice with different values
    SIGNATURE_MISSING = "signature_missing"  # a 2D-Doc without its Base32 signature section
    DECODER_ERROR = "decoder_error"  # a bug in our decoder: the scan is kept, raw only (see the logs)


class GS1Element(BaseModel):
    ai: str
    value: str


class HibcData(BaseModel):
    lic: str | None = None  # labeler identification code (4 characters, first a letter)
    pcn: str | None = None  # product or catalogue number
    unit: int | None = None  # unit of measure digit
    lot: str | None = None
    serial: str | None = None
    expiry: date | None = None
    production_date: date | None = None
    quantity: int | None = None
    link: str | None = None  # secondary-only symbols: the link character to the primary's check


class TwoDDocHeader(BaseModel):
    version: int
    ca_id: str  # certification authority
    certificate_id: str
    document_date: date | None
    signature_date: date | None
    document_type: str
    perimeter: str | None = None
    country: str | None = None


class ScanPayload(BaseModel):
    """One scan, decoded as far as we can without guessing."""

    raw: str = Field(description="the exact text received, GS (0x1D) kept, AIM prefix kept")
    symbology: str | None = Field(default=None, description="AIM symbology identifier, e.g. ']d2'")
    kind: Kind
    valid: bool
    problems: list[Problem] = Field(default_factory=list)
    gtin: str | None = None
    lot: str | None = None
    serial: str | None = None
    expiry: date | None = None
    production_date: date | None = None
    cip13: str | None = None
    elements: list[GS1Element] | None = None
    hibc: HibcData | None = None
    identifier: str | None = Field(
        default=None,
        description="RPPS or FINESS number (key checked), ordonnance numérique or ApCV QR content",
    )
    two_d_doc: TwoDDocHeader | None = None
    url: str | None = None
    redacted: bool = Field(
        default=False,
        description="a NIR (social security number) was found: every copy of it, raw included, is asterisks",
    )
    nir_hashes: list[str] | None = Field(
        default=None, description="with nir_mode = hash: HMAC-SHA256(salt, NIR) of each NIR found"
    )
