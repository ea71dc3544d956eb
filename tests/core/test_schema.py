"""The committed JSON Schemas and AsyncAPI document match the code, and real messages match them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from passerelle.daemon.broker import PrivateBroker
from passerelle.daemon.family import load_families
from passerelle.daemon.schema import asyncapi, event_schemas, schema_file_name
from passerelle.testing.support import DaemonProcess, base_config, collect
from tests.contract import DOCS, assert_valid, channels_for


def test_committed_schemas_match_the_models() -> None:
    families, _ = load_families()
    schemas = event_schemas(families)
    committed = {p.name for p in (DOCS / "schema").glob("*.json")}
    assert committed == {schema_file_name(s) for s in schemas}, "run: passerelle schema --write docs"
    for schema_id, schema in schemas.items():
        on_disk = json.loads((DOCS / "schema" / schema_file_name(schema_id)).read_text())
        assert on_disk == schema, f"{schema_id} drifted; run: passerelle schema --write docs"
    assert yaml.safe_load((DOCS / "asyncapi.yaml").read_text()) == json.loads(json.dumps(asyncapi(families)))


def test_every_event_schema_is_in_the_asyncapi_document() -> None:
    document = yaml.safe_load((DOCS / "asyncapi.yaml").read_text())
    assert document["asyncapi"].startswith("3.")
    names = {m.get("name") for m in document["components"]["messages"].values()}
    families, _ = load_families()
    assert set(event_schemas(families)) <= names
    assert channels_for("passerelle/x/bridge/state")
    assert not channels_for("passerelle/x/unknown/topic/deep")


def test_schema_command_prints_json() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "passerelle.daemon.cli", "schema"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    printed = json.loads(result.stdout)
    assert "passerelle.synthetic/1" in printed["events"]
    assert printed["asyncapi"]["asyncapi"] == "3.0.0"


async def test_real_published_messages_validate(broker: PrivateBroker, tmp_path: Path) -> None:
    config = base_config(
        broker.port, tmp_path / "state", synthetic={"devices": [{"id": "pattern", "rate": 100, "count": 5}]}
    )
    daemon = DaemonProcess(config, tmp_path)
    async with collect(broker.host, broker.port, "passerelle/test/#") as seen:
        daemon.start()
        await daemon.wait_ready()
        await seen.wait_for(lambda m: len(seen.events("passerelle.synthetic/1")) >= 5, 10, "5 events")
        await seen.wait_for(lambda m: bool(seen.on("passerelle/test/bridge/health")), 5, "health")
        assert await daemon.stop() == 0
    topics = {m.topic for m in seen.messages}
    assert {
        "passerelle/test/bridge/state",
        "passerelle/test/bridge/info",
        "passerelle/test/synthetic",
    } <= topics
    for message in seen.messages:
        assert_valid(message.topic, message.payload)
