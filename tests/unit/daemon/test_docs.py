"""The configuration documentation stays true: the reference is generated, the example loads."""

from __future__ import annotations

from pathlib import Path

from passerelle.daemon.config import load_config
from passerelle.daemon.config_reference import reference, splice
from passerelle.daemon.family import load_families

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_configuration_reference_is_current() -> None:
    families, _ = load_families()
    document = (DOCS / "configuration.md").read_text()
    assert splice(document, reference(families)) == document, (
        "run: passerelle config reference --write docs/configuration.md"
    )
    for name in families:
        assert f"### `[{name}]`" in document


def test_example_configuration_is_valid() -> None:
    families, _ = load_families()
    loaded = load_config(DOCS / "config.example.toml", families)
    assert loaded.section_problems == {}
    assert loaded.settings.station == "comptoir-1"
    assert loaded.settings.mqtt.tls.enabled
    assert loaded.settings.mqtt.tls.verify
    assert set(loaded.sections) >= {"scanner", "card", "cpap"}
