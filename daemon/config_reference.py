"""The option reference in docs/configuration.md, generated from the models so it cannot drift.

``passerelle config reference`` prints it; a test compares it with the committed document.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from enum import Enum
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from passerelle.daemon.config import CoreSettings
from passerelle.daemon.family import Family

BEGIN = "<!-- BEGIN GENERATED REFERENCE (passerelle config reference) -->"
END = "<!-- END GENERATED REFERENCE -->"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a!r}`".replace("'", '"') for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(names) + (" or none" if type(None) in args else "")
    if origin in (list, tuple, set, frozenset):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin in (dict, Mapping):
        return "table"
    if isinstance(annotation, type):
        if issubclass(annotation, SecretStr):
            return "secret string"
        if issubclass(annotation, Enum):
            return " \\| ".join(f'`"{m.value}"`' for m in annotation)
        if issubclass(annotation, BaseModel):
            return "table"
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "Path": "path"}.get(
            annotation.__name__, annotation.__name__
        )
    return str(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        try:
            produced = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
        if isinstance(produced, list | dict) and not produced:
            return "`[]`" if isinstance(produced, list) else "`{}`"
        return "(computed)"
    if field.default is PydanticUndefined:
        return "**required**"
    value = field.default
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, Enum):
        value = value.value
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model inside a field type, and whether it is a list of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (list, tuple) and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0], True
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _model_of(args[0])
    return None, False


def _rows(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str, str, str]]:
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}{key}"
        nested, is_list = _model_of(field.annotation)
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        if nested is not None:
            if is_list:
                yield (
                    path,
                    "list of tables",
                    _default(field),
                    description or f"one table per {key[:-1] or key}",
                )
                yield from _rows(nested, f"{path}[].")
            else:
                yield from _rows(nested, f"{path}.")
            continue
        yield path, _type_name(field.annotation), _default(field), description


def _table(rows: Iterator[tuple[str, str, str, str]]) -> str:
    lines = ["| option | type | default | meaning |", "|---|---|---|---|"]
    lines += [f"| `{p}` | {t} | {d} | {m} |" for p, t, d, m in rows]
    return "\n".join(lines) + "\n"


def reference(families: Mapping[str, Family]) -> str:
    parts = [BEGIN, "", "### Core", "", _table(_rows(CoreSettings, ""))]
    for name in sorted(families):
        parts += [f"### `[{name}]`", "", _table(_rows(families[name].section_model, f"{name}."))]
    parts.append(END)
    return "\n".join(parts)


def splice(document: str, generated: str) -> str:
    """Replace the generated block of ``document``."""
    start, end = document.index(BEGIN), document.index(END) + len(END)
    return document[:start] + generated + document[end:]
