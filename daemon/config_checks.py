"""Configuration checks beyond one field's type: files the daemon would only open when it connects, and
contradictions between sections. ``load_config`` runs them, so ``passerelle run`` stops with exit 78 on
exactly what ``passerelle config check`` reports instead of going READY and retrying forever.

Every problem is a ``dotted.path: message`` line; none repeats the configured value (it may be a secret,
and a device id is still the operator's data).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import EnvSettingsSource

from passerelle.daemon.family import (
    ENTRY_POINT_GROUP,
    FAMILY_NAME,
    Family,
    FamilySection,
    load_families,
    reserved_names,
)
from passerelle.daemon.topics import RESERVED_LEVELS

if TYPE_CHECKING:
    from passerelle.daemon.config import TlsSettings


class EnvValueError(ValueError):
    """An environment variable for a list or table setting does not hold JSON."""

    def __init__(self, field_name: str) -> None:
        super().__init__(field_name)
        self.field_name = field_name


class JsonCheckedEnvSource(EnvSettingsSource):
    """The usual ``PASSERELLE_…`` source, but a value that is not JSON names its setting.

    pydantic-settings wraps the decoding error in a SettingsError whose only structure is its text; the
    typed cause lets ``load_config`` report ``<setting>: …`` without parsing that text."""

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)
        except ValueError as exc:
            raise EnvValueError(field_name) from exc

    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        try:
            return super().prepare_field_value(field_name, field, value, value_is_complex)
        except EnvValueError as exc:
            # A nested variable (PASSERELLE_MQTT__TLS) fails under its top-level setting: name both.
            nested = exc.field_name if exc.field_name != field_name else None
            raise EnvValueError(f"{field_name}.{nested}" if nested else field_name) from exc
        except ValueError as exc:
            raise EnvValueError(field_name) from exc


def env_value_problem(dotted: str, env_prefix: str, nested_delimiter: str) -> str:
    variable = env_prefix + dotted.upper().replace(".", nested_delimiter)
    return f"{dotted}: environment variable {variable} must hold JSON (a list or table setting)"


def _readable(dotted: str, path: Path) -> str | None:
    try:
        with path.open("rb"):
            return None
    except IsADirectoryError:
        return f"{dotted}: is a directory, not a file"
    except OSError as exc:
        return f"{dotted}: cannot be read ({exc.strerror})"


def password_file_problems(path: Path | None) -> list[str]:
    problem = _readable("mqtt.password_file", path) if path is not None else None
    return [problem] if problem else []


def tls_problems(tls: TlsSettings) -> list[str]:
    """What building the daemon's TLS context would fail on, found before the first connection."""
    if not tls.enabled:
        return []
    problems: list[str] = []
    if (tls.cert_file is None) != (tls.key_file is None):
        problems.append("mqtt.tls: cert_file and key_file go together")
    files = {name: getattr(tls, name) for name in ("ca_file", "cert_file", "key_file")}
    for name, path in files.items():
        problem = _readable(f"mqtt.tls.{name}", path) if path is not None else None
        if problem is not None:
            problems.append(problem)
    if problems:
        return problems
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    except ssl.SSLError as exc:
        return [f"mqtt.tls.ca_file: not a PEM certificate bundle ({exc.reason})"]
    if tls.cert_file is not None and tls.key_file is not None:
        try:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file), password=_no_password)
        except (ssl.SSLError, _EncryptedKeyError) as exc:
            reason = exc.reason if isinstance(exc, ssl.SSLError) else str(exc)
            problems.append(f"mqtt.tls.cert_file: unusable with key_file ({reason})")
    return problems


class _EncryptedKeyError(ValueError):
    pass


def _no_password() -> bytes:
    # A key that asks for a passphrase would make the daemon prompt on a terminal nobody watches.
    raise _EncryptedKeyError("the key is encrypted; the daemon cannot ask for its passphrase")


def _device_ids(model: BaseModel, dotted: str) -> Iterator[tuple[str, str]]:
    """(dotted path, id) of every configured device: by convention, the ``id`` of the items of a
    family section's lists (scanner devices, CPAP sources, synthetic devices) names a device in topics."""
    for name, value in model:
        if isinstance(value, list):
            for index, item in enumerate(value):
                device_id = getattr(item, "id", None) if isinstance(item, BaseModel) else None
                if isinstance(device_id, str):
                    yield f"{dotted}.{name}.{index}.id", device_id
        elif isinstance(value, BaseModel):
            yield from _device_ids(value, f"{dotted}.{name}")


def reserved_levels(families: Mapping[str, Family]) -> frozenset[str]:
    """First topic levels under the base that a device id would shadow: ``bridge`` and every channel
    (a device ``scan`` would put ``<base>/scan/availability`` under the scan channel's subscribers)."""
    channels = {event.leaf for family in families.values() for event in family.events}
    return RESERVED_LEVELS | channels


def device_id_problems(sections: Mapping[str, FamilySection], families: Mapping[str, Family]) -> list[str]:
    """Device ids of enabled families: not a reserved topic level, and unique across families (two
    devices with one id would share their availability and state topics)."""
    reserved = reserved_levels(families)
    problems: list[str] = []
    first_seen: dict[str, str] = {}
    for family_name, section in sections.items():
        if not section.enabled:
            continue
        for dotted, device_id in _device_ids(section, family_name):
            if device_id in reserved:
                problems.append(f"{dotted}: is a reserved topic level ({', '.join(sorted(reserved))})")
            elif device_id in first_seen:
                problems.append(f"{dotted}: the same device id is already used by {first_seen[device_id]}")
            first_seen.setdefault(device_id, dotted)
    return problems


def problem_line(item: ErrorDetails, prefix: str = "") -> str:
    path = ".".join(str(part) for part in item["loc"]) or "(root)"
    return f"{prefix}{path}: {item['msg']}"


def unavailable_families(families: Mapping[str, Family]) -> dict[str, str]:
    """Installed families that failed to load (name -> reason) and whose name can be a section."""
    _, errors = load_families()
    reserved = reserved_names()
    return {
        e.name: e.reason
        for e in errors
        if e.name not in families and FAMILY_NAME.match(e.name) and e.name not in reserved
    }


def unknown_section_problems(error: ValidationError, families: Mapping[str, Family]) -> list[str]:
    """The problems of the core settings, with a clear line for a section no installed family owns
    (pydantic's own would be "Extra inputs are not permitted")."""
    lines = []
    for item in error.errors():
        if item["type"] == "extra_forbidden" and len(item["loc"]) == 1:
            name = str(item["loc"][0])
            lines.append(
                f'{name}: no device family "{name}" is installed (entry point group {ENTRY_POINT_GROUP}); '
                f"installed: {', '.join(sorted(families)) or 'none'}"
            )
        else:
            lines.append(problem_line(item))
    return lines
