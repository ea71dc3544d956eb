"""docs/asyncapi.yaml must be usable by AsyncAPI tools: every local reference resolves from the document's
root (a JSON Schema's own ``#/$defs/…`` does not, and made the official parser reject the contract)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_every_local_reference_of_the_asyncapi_document_resolves() -> None:
    document = yaml.safe_load((DOCS / "asyncapi.yaml").read_text())
    local = [ref for ref in _refs(document) if ref.startswith("#/")]
    assert local
    for ref in local:
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, f"{ref} does not resolve in docs/asyncapi.yaml"
            node = node[part]
    for ref in _refs(document):
        if ref.startswith("./"):
            assert (DOCS / ref).is_file(), ref
