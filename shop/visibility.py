"""Field visibility for provenance records: private unless declared public.

A model opts in with `@private_unless_public`; then its column is public only
when it is created with `public_column`, and every other column is private:
never on a public page, and never in the audit log in clear (the audit records
that it changed, not the value). Public pages never receive model objects; they receive `public_view(obj)`, which copies the
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
# No public figure (a page, an email, an API answer) is about fewer trainees than this.
PUBLIC_MIN_TRAINEES = 5


def public_column(*args: Any, **kwargs: Any):
    info = dict(kwargs.pop("info", {}) or {})
    info["visibility"] = PUBLIC
    return mapped_column(*args, info=info, **kwargs)


def private_unless_public(model: type) -> type:
    """Class decorator: the model's columns are private unless declared public."""
    model.__visibility_declared__ = True
    return model


def visibility(column) -> str:
    return column.info.get("visibility", PRIVATE)


def public_field_names(model: type) -> list[str]:
    mapper = inspect(model)
    return [attr.key for attr in mapper.column_attrs if visibility(attr.columns[0]) == PUBLIC]


def private_field_names(model: type) -> list[str]:
    """The private columns of a model that declares visibility; none for any other model."""
    if not getattr(model, "__visibility_declared__", False):
        return []
    mapper = inspect(model)
    return [attr.key for attr in mapper.column_attrs if visibility(attr.columns[0]) == PRIVATE]


def public_view(obj: Any, **extra: Any) -> SimpleNamespace:
    """The public columns of `obj`, plus whatever public facts the caller adds."""
    values = {name: getattr(obj, name) for name in public_field_names(type(obj))}
    values.update(extra)
    return SimpleNamespace(**values)
