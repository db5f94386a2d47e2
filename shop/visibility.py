"""Field visibility for provenance records: private unless declared public.

A column is public only when it is created with `public_column`. Public pages
never receive model objects; they receive `public_view(obj)`, which copies the
public columns and nothing else, so a template cannot reach a private field
even by mistake.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import mapped_column

PUBLIC = "public"
PRIVATE = "private"


def public_column(*args: Any, **kwargs: Any):
    info = dict(kwargs.pop("info", {}) or {})
    info["visibility"] = PUBLIC
    return mapped_column(*args, info=info, **kwargs)


def visibility(column) -> str:
    return column.info.get("visibility", PRIVATE)


def public_field_names(model: type) -> list[str]:
    mapper = inspect(model)
    return [attr.key for attr in mapper.column_attrs if visibility(attr.columns[0]) == PUBLIC]


def public_view(obj: Any, **extra: Any) -> SimpleNamespace:
    """The public columns of `obj`, plus whatever public facts the caller adds."""
    values = {name: getattr(obj, name) for name in public_field_names(type(obj))}
    values.update(extra)
    return SimpleNamespace(**values)
