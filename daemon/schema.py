"""JSON Schema of every payload and the AsyncAPI 3 document of every topic, from the typed models.

``passerelle schema`` prints them; docs/schema/ and docs/asyncapi.yaml hold the committed copies and a
test fails when they drift from the code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from passerelle.daemon import __version__
from passerelle.daemon.events import LOSS_SCHEMA, Availability, Envelope, LossData
from passerelle.daemon.family import Family
from passerelle.daemon.requests import Response

BASE = "passerelle/{station}"


def _envelope_schema(schema_id: str, data_model: type[BaseModel]) -> dict[str, Any]:
    schema = Envelope.model_json_schema(by_alias=True)
    data_schema = data_model.model_json_schema()
    defs = {**schema.pop("$defs", {}), **data_schema.pop("$defs", {})}
    schema["properties"]["schema"] = {"const": schema_id, "title": "Schema"}
    schema["properties"]["data"] = data_schema
    schema["$id"] = f"https://passerelle.invalid/schema/{schema_id.replace('/', '.v')}.json"
    schema["title"] = schema_id
    if defs:
        schema["$defs"] = defs
    return schema


def event_schemas(families: Mapping[str, Family]) -> dict[str, dict[str, Any]]:
    """Schema id -> JSON Schema of the whole event (envelope + data)."""
    schemas = {LOSS_SCHEMA: _envelope_schema(LOSS_SCHEMA, LossData)}
    for family in families.values():
        for schema_id, model in family.event_models.items():
            schemas[schema_id] = _envelope_schema(schema_id, model)
    return dict(sorted(schemas.items()))


def bridge_schemas() -> dict[str, dict[str, Any]]:
    """The bridge payloads as AsyncAPI component schemas: nested models become components of their own,
    referenced from the document's root (a JSON Schema's local ``#/$defs/…`` means nothing there)."""
    schemas: dict[str, dict[str, Any]] = {}
    for name, model in (("availability", Availability), ("response", Response)):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    return schemas


def schema_file_name(schema_id: str) -> str:
    return schema_id.replace("/", ".v") + ".json"


def asyncapi(families: Mapping[str, Family]) -> dict[str, Any]:
    events = event_schemas(families)
    messages: dict[str, Any] = {}
    for schema_id in events:
        messages[_key(schema_id)] = {
            "name": schema_id,
            "contentType": "application/json",
            "payload": {"$ref": f"./schema/{schema_file_name(schema_id)}"},
        }
    messages["availability"] = {
        "contentType": "application/json",
        "payload": {"$ref": "#/components/schemas/availability"},
    }
    messages["response"] = {
        "contentType": "application/json",
        "payload": {"$ref": "#/components/schemas/response"},
    }
    messages["bridgeInfo"] = {"contentType": "application/json", "payload": {"type": "object"}}
    messages["bridgeDevices"] = {"contentType": "application/json", "payload": {"type": "object"}}
    messages["bridgeHealth"] = {"contentType": "application/json", "payload": {"type": "object"}}
    messages["request"] = {
        "contentType": "application/json",
        "payload": {"type": "object", "properties": {"transaction": {}}, "additionalProperties": True},
    }

    def channel(address: str, description: str, refs: list[str], params: bool = False) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "address": address,
            "description": description,
            "messages": {r: {"$ref": f"#/components/messages/{r}"} for r in refs},
        }
        parameters = {"station": {"description": "workstation id ([a-z0-9-])"}}
        if params:
            parameters["device_id"] = {"description": "device id from bridge/devices"}
        if "{command}" in address:
            parameters["command"] = {
                "description": "ping, info, devices, health, config, doctor, log-level, restart, "
                "support-bundle, or a driver command"
            }
        entry["parameters"] = parameters
        return entry

    channels: dict[str, Any] = {
        "bridgeState": channel(
            f"{BASE}/bridge/state",
            "Retained, QoS 1. online on every connect; offline is the Will.",
            ["availability"],
        ),
        "bridgeInfo": channel(
            f"{BASE}/bridge/info",
            "Retained, QoS 1. Version, schemas, drivers, config summary.",
            ["bridgeInfo"],
        ),
        "bridgeDevices": channel(
            f"{BASE}/bridge/devices",
            "Retained, QoS 1. Device inventory and disabled drivers.",
            ["bridgeDevices"],
        ),
        "bridgeHealth": channel(
            f"{BASE}/bridge/health", "Retained, QoS 1. green / yellow / red and why.", ["bridgeHealth"]
        ),
        "bridgeLoss": channel(
            f"{BASE}/bridge/loss",
            "QoS 1, not retained. Events discarded by the drop_oldest policy.",
            [_key(LOSS_SCHEMA)],
        ),
        "bridgeRequest": channel(
            f"{BASE}/bridge/request/{{command}}",
            "Requests to the bridge (never retain them: retained ones are refused).",
            ["request"],
        ),
        "bridgeResponse": channel(
            f"{BASE}/bridge/response/{{command}}",
            "QoS 1, not retained. Also sent to the MQTT 5 Response Topic when it lies under "
            "bridge/response/ (any other is refused with forbidden_response_topic).",
            ["response"],
        ),
        "availability": channel(
            f"{BASE}/{{device_id}}/availability", "Retained, QoS 1.", ["availability"], params=True
        ),
    }
    operations: dict[str, Any] = {}
    state_refs: list[str] = []
    for family in families.values():
        state_refs += [_key(schema_id) for schema_id in family.event_models]
        leaves: dict[str, list[str]] = {}
        for schema_id in family.event_models:
            leaves.setdefault(family.channels.get(schema_id, family.name), []).append(_key(schema_id))
        for leaf, refs in leaves.items():
            channels[f"{family.name}_{leaf}"] = channel(
                f"{BASE}/{leaf}", f"QoS 1, not retained. {family.name} events; deduplicate on event_id.", refs
            )
    channels["deviceState"] = channel(
        f"{BASE}/{{device_id}}/state",
        "Retained, QoS 1. What is true now for a device that has a state (e.g. the card in a reader).",
        state_refs,
        params=True,
    )
    for name in channels:
        action = "receive" if name == "bridgeRequest" else "send"
        operations[f"{action}_{name}"] = {"action": action, "channel": {"$ref": f"#/channels/{name}"}}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Passerelle MQTT contract",
            "version": __version__,
            "description": "Counter hardware events. Delivery is at least once: deduplicate on event_id.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": bridge_schemas()},
    }


def _key(schema_id: str) -> str:
    return schema_id.replace("/", "_v").replace(".", "_").replace("-", "_")


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
