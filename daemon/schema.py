"""JSON Schema of every payload and the AsyncAPI 3 document of every topic, from the typed models.

Everything here derives from two declarations: the core's topics (daemon/topics.py ``CORE_TOPICS``) and
each family's events (``Family.events``). ``passerelle schema`` prints them; ``passerelle schema --write
docs`` (or ``python -m passerelle.daemon.schema --write docs``) writes docs/schema/*.json,
docs/asyncapi.yaml and the topic table of docs/mqtt.md, and a test fails when the committed files drift.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from passerelle.daemon import __version__
from passerelle.daemon.events import LOSS_SCHEMA, Availability, Envelope, LossData
from passerelle.daemon.family import EventDeclaration, Family, load_families
from passerelle.daemon.requests import Response
from passerelle.daemon.topics import CORE_TOPICS

BASE = "passerelle/{station}"
TABLE_BEGIN = "<!-- BEGIN GENERATED TOPICS (passerelle schema --write docs) -->"
TABLE_END = "<!-- END GENERATED TOPICS -->"


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
        for event in family.events:
            schemas[event.schema] = _envelope_schema(event.schema, event.data)
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

    channels: dict[str, Any] = {}
    for topic in CORE_TOPICS:
        refs = list(topic.messages)
        if topic.family_events:
            refs += [_key(event.schema) for family in families.values() for event in family.events]
        channels[topic.key] = _channel(topic.path, topic.description, refs)
    for family in families.values():
        for leaf, declared in _by_leaf(family).items():
            description = f"QoS 1, not retained. {family.name} events; deduplicate on event_id."
            channels[f"{family.name}_{leaf}"] = _channel(
                leaf, description, [_key(e.schema) for e in declared]
            )
    operations: dict[str, Any] = {}
    received = {topic.key for topic in CORE_TOPICS if topic.received}
    for name in channels:
        action = "receive" if name in received else "send"
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


def _channel(path: str, description: str, refs: list[str]) -> dict[str, Any]:
    parameters = {"station": {"description": "workstation id ([a-z0-9-])"}}
    if "{device_id}" in path:
        parameters["device_id"] = {"description": "device id from bridge/devices"}
    if "{command}" in path:
        parameters["command"] = {
            "description": "ping, info, devices, health, config, doctor, log-level, restart, "
            "support-bundle, or a driver command"
        }
    return {
        "address": f"{BASE}/{path}",
        "description": description,
        "messages": {r: {"$ref": f"#/components/messages/{r}"} for r in refs},
        "parameters": parameters,
    }


def _by_leaf(family: Family) -> dict[str, list[EventDeclaration]]:
    leaves: dict[str, list[EventDeclaration]] = {}
    for event in family.events:
        leaves.setdefault(event.leaf, []).append(event)
    return leaves


def topic_table(families: Mapping[str, Family]) -> str:
    """The topic table of docs/mqtt.md, between its markers: the core's topics, then each family's."""
    rows = ["| topic | QoS | retained | payload |", "|---|---|---|---|"]
    for topic in CORE_TOPICS:
        shown = topic.path.replace("{", "<").replace("}", ">")
        qos, retained = ("—", "never") if topic.received else ("1", "yes" if topic.retained else "no")
        rows.append(f"| `{shown}` | {qos} | {retained} | {topic.payload} |")
    for family in families.values():
        for leaf, events in _by_leaf(family).items():
            payload = "; ".join(f"`{event.schema}`: {event.description}" for event in events)
            rows.append(f"| `{leaf}` | 1 | no | {payload} |")
    return "\n".join([TABLE_BEGIN, "", *rows, "", TABLE_END])


def splice_table(document: str, table: str) -> str:
    start, end = document.index(TABLE_BEGIN), document.index(TABLE_END) + len(TABLE_END)
    return document[:start] + table + document[end:]


def generated_docs(families: Mapping[str, Family], docs: Path) -> dict[Path, str]:
    """Every generated file under ``docs`` (relative path -> text), docs/mqtt.md with its table spliced."""
    files = {
        Path("schema") / schema_file_name(s): dumps(schema) for s, schema in event_schemas(families).items()
    }
    files[Path("asyncapi.yaml")] = yaml.safe_dump(asyncapi(families), sort_keys=True, allow_unicode=True)
    files[Path("mqtt.md")] = splice_table((docs / "mqtt.md").read_text(), topic_table(families))
    return files


def write_docs(families: Mapping[str, Family], docs: Path) -> int:
    """Write the generated files (removing schemas no family declares any more); the number of schemas."""
    files = generated_docs(families, docs)
    (docs / "schema").mkdir(parents=True, exist_ok=True)
    for old in (docs / "schema").glob("*.json"):
        if Path("schema") / old.name not in files:
            old.unlink()
    for relative, text in files.items():
        (docs / relative).write_text(text)
    return sum(1 for relative in files if relative.parent == Path("schema"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m passerelle.daemon.schema", description=__doc__)
    parser.add_argument("--write", type=Path, metavar="DIR", required=True, help="the docs/ folder")
    args = parser.parse_args(argv)
    families, _ = load_families()
    count = write_docs(families, args.write)
    print(f"wrote {count} schemas, asyncapi.yaml and the topic table of mqtt.md under {args.write}")
    return 0


def _key(schema_id: str) -> str:
    return schema_id.replace("/", "_v").replace(".", "_").replace("-", "_")


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
