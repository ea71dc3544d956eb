"""Validate real published messages against the committed JSON Schemas and AsyncAPI document.

Families use it in their end-to-end tests: ``assert_valid(topic, payload)``.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

DOCS = Path(__file__).resolve().parents[1] / "docs"


@functools.cache
def asyncapi_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DOCS / "asyncapi.yaml").read_text())
    return document


@functools.cache
def _schema_file(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((DOCS / "schema" / name).read_text())
    return schema


def _resolve(ref: str) -> dict[str, Any]:
    if ref.startswith("./schema/"):
        return _schema_file(ref.removeprefix("./schema/"))
    node: Any = asyncapi_document()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    if isinstance(node, dict) and "$ref" in node:
        return _resolve(node["$ref"])
    assert isinstance(node, dict)
    return node


def _address_pattern(address: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(address)) + "$")


def channels_for(topic: str) -> list[dict[str, Any]]:
    return [
        c for c in asyncapi_document()["channels"].values() if _address_pattern(c["address"]).match(topic)
    ]


def assert_valid(topic: str, payload: bytes) -> None:
    """The message fits a channel of the AsyncAPI document, and its JSON Schema when it is an event."""
    channels = channels_for(topic)
    assert channels, f"topic {topic} is not described in docs/asyncapi.yaml"
    body = json.loads(payload)
    if isinstance(body, dict) and "schema" in body and "event_id" in body:
        schema_file = body["schema"].replace("/", ".v") + ".json"
        assert (DOCS / "schema" / schema_file).exists(), f"no committed schema for {body['schema']}"
        jsonschema.validate(body, _schema_file(schema_file))
    errors: list[str] = []
    for channel in channels:
        for message in channel["messages"].values():
            payload_schema = _resolve(message["$ref"])["payload"]
            if "$ref" in payload_schema:
                # Component schemas refer to each other from the document's root.
                payload_schema = {
                    **_resolve(payload_schema["$ref"]),
                    "components": asyncapi_document()["components"],
                }
            try:
                jsonschema.validate(body, payload_schema)
                return
            except jsonschema.ValidationError as exc:
                errors.append(exc.message)
    raise AssertionError(f"{topic}: payload fits no message of its channel(s): {errors[:3]}")
