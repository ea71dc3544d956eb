"""The committed contract documents are exactly what the declarations generate (core topics in
daemon/topics.py, each family's events): docs/schema/*.json, docs/asyncapi.yaml, the topic table of
docs/mqtt.md."""

from __future__ import annotations

from pathlib import Path

from passerelle.daemon.family import load_families
from passerelle.daemon.schema import TABLE_BEGIN, generated_docs, topic_table
from passerelle.daemon.topics import CORE_TOPICS, RESERVED_LEVELS, Topics

DOCS = Path(__file__).resolve().parents[3] / "docs"
FIX = "run: passerelle schema --write docs"


def test_committed_docs_are_what_the_generator_writes() -> None:
    families, _ = load_families()
    generated = generated_docs(families, DOCS)
    for relative, text in generated.items():
        assert (DOCS / relative).read_text() == text, f"docs/{relative} drifted; {FIX}"
    committed = {Path("schema") / p.name for p in (DOCS / "schema").glob("*.json")}
    assert committed == {p for p in generated if p.parent == Path("schema")}, FIX


def test_the_topic_table_has_a_row_per_core_topic_and_family_leaf() -> None:
    families, _ = load_families()
    table = topic_table(families)
    assert table.startswith(TABLE_BEGIN)
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    leaves = {event.leaf for family in families.values() for event in family.events}
    assert len(rows) == len(CORE_TOPICS) + len(leaves)
    assert "| `bridge/request/<command>` | — | never |" in table


def test_topic_names_come_from_the_declarations() -> None:
    topics = Topics("passerelle/s1")
    assert topics.state == "passerelle/s1/bridge/state"
    assert topics.requests == "passerelle/s1/bridge/request/+"
    assert topics.command_of("passerelle/s1/bridge/request/ping") == "ping"
    assert topics.command_of("passerelle/s1/bridge/response/ping") is None
    assert topics.response("ping") == "passerelle/s1/bridge/response/ping"
    assert topics.availability("reader-1") == "passerelle/s1/reader-1/availability"
    assert {"bridge"} == RESERVED_LEVELS
