"""The configuration reference in Markdown, generated from the pydantic schema (the docs
suite keeps docs/configuration.md equal to this output)."""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel

from ops.config.schema import ProofyardConfig


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.__name__
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (list, dict):
        inner = ", ".join(_type_name(a) for a in args)
        return f"{origin.__name__}[{inner}]"
    if args:
        return " \\| ".join(_type_name(a) for a in args)
    return getattr(annotation, "__name__", str(annotation)).replace("NoneType", "null")


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return f"{len(value)} entries"
    return f"`{json.dumps(value)}`"


def _nested(annotation: Any) -> list[type[BaseModel]]:
    """Models inside an annotation (``Section``, ``list[Section]``, ``dict[str, Section]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _nested(arg)]


def reference() -> str:
    lines = []
    seen: set[type[BaseModel]] = set()
    queue: list[tuple[str, type[BaseModel]]] = [("", ProofyardConfig)]
    while queue:
        prefix, model = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        title = prefix or "top level"
        doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
        lines += [
            f"### `{title}`",
            "",
            doc,
            "",
            "| key | type | default | meaning |",
            "|---|---|---|---|",
        ]
        for name, field in model.model_fields.items():
            lines.append(
                f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | "
                f"{(field.description or '').replace('|', '/')} |"
            )
            path = f"{prefix}.{name}".lstrip(".")
            origin = typing.get_origin(field.annotation)
            suffix = "[]" if origin is list else ".<name>" if origin is dict else ""
            for child in _nested(field.annotation):
                queue.append((path + suffix, child))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
