"""Record back-office actions; flushed with the change they describe, never on their own."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from flask import has_request_context, render_template, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from shop.audit.models import AuditEntry
from shop.extensions import db
from shop.web import page_number


def _plain(value: Any) -> Any:
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


def snapshot(obj: Any, fields: list[str]) -> dict:
    return {name: _plain(getattr(obj, name)) for name in fields}


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
    if actor_id is None and has_request_context() and current_user.is_authenticated:
        actor_id = current_user.id
    changed_before, changed_after = before, after
    if before is not None and after is not None:  # keep only what changed
        keys = [k for k in after if before.get(k) != after.get(k)]
        changed_before = {k: before.get(k) for k in keys}
        changed_after = {k: after.get(k) for k in keys}
    entry = AuditEntry(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        summary=summary[:300],
        before=_plain(changed_before),
        after=_plain(changed_after),
        address=(request.remote_addr or "")[:64] if has_request_context() else "command line",
    )
    db.session.add(entry)
    return entry


def audit_page(per_page: int = 30):
    """The newest entries first, a page at a time (shared by /admin/audit and /staff/audit)."""
    page = page_number()
    rows = db.session.scalars(
        select(AuditEntry)
        .options(joinedload(AuditEntry.actor))
        .order_by(AuditEntry.id.desc())
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    ).all()
    return render_template(
        "admin/audit.html", rows=rows[:per_page], more=len(rows) > per_page, page=page
    )
