"""A support bundle as one MQTT answer: JSON, scrubbed of NIR shapes, gzip-compressed and base64-encoded,
cut to fit the broker's size limit by leaving out the oldest log records first."""

from __future__ import annotations

import base64
import gzip
import json
import platform
import sys
from importlib import metadata
from typing import Any

from passerelle.daemon import __version__
from passerelle.daemon.driver import RequestError
from passerelle.daemon.redact import scrub_nir

# Room for what surrounds the bundle in the published answer: the response envelope, the requester's
# transaction (bounded by the request size limit only when echoed, so be generous), the topic and the
# MQTT 5 properties.
ENVELOPE_BYTES = 2048
LIBRARIES = ("aiomqtt", "paho-mqtt", "pydantic", "pydantic-settings", "prometheus-client")


def versions() -> dict[str, str]:
    found = {"passerelle": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _scrubbed_json(contents: dict[str, Any]) -> str:
    return scrub_nir(json.dumps(contents, sort_keys=True, default=str))  # a NIR anywhere, not only in logs


def _packed(contents: dict[str, Any]) -> str:
    text = _scrubbed_json(contents)
    return base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=9)).decode("ascii")


def build_document(contents: dict[str, Any], logs: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole bundle as plain JSON (the console's download, which no broker limit applies to)."""
    document: dict[str, Any] = json.loads(
        _scrubbed_json({**contents, "versions": versions(), "logs": logs, "logs_left_out": 0})
    )
    return document


def build_bundle(contents: dict[str, Any], logs: list[dict[str, Any]], limit_bytes: int) -> dict[str, Any]:
    """The answer's data: the packed bundle and what was left out to fit ``limit_bytes``."""
    budget = limit_bytes - ENVELOPE_BYTES
    kept = list(logs)
    while True:
        packed = _packed(
            {**contents, "versions": versions(), "logs": kept, "logs_left_out": len(logs) - len(kept)}
        )
        if len(packed) <= budget:
            return {
                "encoding": "gzip+base64",
                "format": "json",
                "bytes": len(packed),
                "limit_bytes": limit_bytes,
                "log_records": len(kept),
                "log_records_left_out": len(logs) - len(kept),
                "bundle": packed,
            }
        if not kept:
            raise RequestError(
                "bundle_too_large",
                f"the bundle without logs is {len(packed)} bytes, above the limit of {limit_bytes}",
            )
        kept = kept[len(kept) // 2 + 1 :] if len(kept) > 1 else []  # halve, keeping the newest
