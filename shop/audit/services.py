"""Record back-office actions; flushed with the change they describe, never on their own.

The log is append-only, so what enters it can never be erased: a private field
(per the model's visibility declarations, shop.visibility) is recorded as having
changed, never with its value. Entries belong to an area: admins see the shop's
(catalog, stock, orders), staff see people and partners'; neither sees the other's.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any

from flask import has_request_context, render_template, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from shop.audit.models import AuditEntry
from shop.extensions import db
from shop.visibility import private_field_names
from shop.web import page_number

PRIVATE_BEFORE = "(private)"
PRIVATE_AFTER = "(private: changed)"
PRIVATE_SET = "(private: set)"

STAFF_AREA, ADMIN_AREA = "staff", "admin"
# Targets about people and partners: the staff area. Anything else is the shop's.
STAFF_TARGETS = frozenset(
    {"trainee", "workshop", "vetting_event", "withdrawal", "correction", "goal"}
)


class _Private:
    """A private value held only to tell whether it changed; never written anywhere."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Private) and other.value == self.value

    def __hash__(self) -> int:
        return hash(repr(self.value))

    def __repr__(self) -> str:
        return PRIVATE_BEFORE


def _plain(value: Any) -> Any:
    if isinstance(value, _Private):
        return PRIVATE_BEFORE
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


@cache
def _private_fields_of(target_type: str) -> frozenset[str]:
    """The private columns of the model a target type names ('trainee' -> Trainee)."""
    wanted = target_type.replace("_", "").lower()
    for mapper in db.Model.registry.mappers:
        if mapper.class_.__name__.lower() == wanted:
            return frozenset(private_field_names(mapper.class_))
    return frozenset()


def area_of(target_type: str) -> str:
    return STAFF_AREA if target_type in STAFF_TARGETS else ADMIN_AREA


def snapshot(obj: Any, fields: list[str]) -> dict:
    """The named fields of `obj`; its private ones only as markers that compare by value."""
    private = set(private_field_names(type(obj)))
    return {
        name: _Private(getattr(obj, name)) if name in private else _plain(getattr(obj, name))
        for name in fields
    }


def _withheld(values: dict | None, private: set[str], marker: str) -> dict | None:
    if values is None:
        return None
    return {k: marker if k in private else _plain(v) for k, v in values.items()}


def record(
    action: str,
    target_type: str,
    target_id: int | None,
    *,
    summary: str = "",
    before: dict | None = None,
    after: dict | None = None,
    actor_id: int | None = None,
) -> AuditEntry:
    """Add an entry. Only changed fields are kept; private ones (of the target's model, or
    marked by `snapshot`) say that they changed, not what they were or became."""
    if actor_id is None and has_request_context() and current_user.is_authenticated:
        actor_id = current_user.id
    changed_before, changed_after = before, after
    if before is not None and after is not None:  # keep only what changed
        keys = [k for k in after if before.get(k) != after.get(k)]
        changed_before = {k: before.get(k) for k in keys}
        changed_after = {k: after.get(k) for k in keys}
    private = set(_private_fields_of(target_type))
    for values in (changed_before, changed_after):
        private |= {k for k, v in (values or {}).items() if isinstance(v, _Private)}
    entry = AuditEntry(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        summary=summary[:300],
        before=_withheld(changed_before, private, PRIVATE_BEFORE),
        after=_withheld(
            changed_after, private, PRIVATE_SET if changed_before is None else PRIVATE_AFTER
        ),
        address=(request.remote_addr or "")[:64] if has_request_context() else "command line",
    )
    db.session.add(entry)
    return entry


def audit_page(area: str | None = None, per_page: int = 30):
    """The newest entries of one area first, a page at a time: /staff/audit shows the staff
    area, /admin/audit the shop's (the area follows the blueprint when not given)."""
    area = area or (STAFF_AREA if request.blueprint == "staff" else ADMIN_AREA)
    in_area = AuditEntry.target_type.in_(STAFF_TARGETS)
    page = page_number()
    rows = db.session.scalars(
        select(AuditEntry)
        .options(joinedload(AuditEntry.actor))
        .where(in_area if area == STAFF_AREA else ~in_area)
        .order_by(AuditEntry.id.desc())
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    ).all()
    return render_template(
        "admin/audit.html", rows=rows[:per_page], more=len(rows) > per_page, page=page
    )
