"""The CSV imports leave the audit entries the back-office forms leave, private fields only
as having changed, with the command line as who did it (attack 2, finding 12)."""

from __future__ import annotations

import json

from sqlalchemy import select

from shop.audit.models import AuditEntry
from shop.extensions import db
from tests.conftest import client_as
from tests.test_imports import (  # noqa: F401  (run_import, loaded: fixtures)
    BATCHES,
    TRAINEES_HEADER,
    loaded,
    run_import,
)


def _entries(app) -> list[AuditEntry]:
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        db.session.expunge_all()
        return entries


def test_imports_are_audited_like_the_forms(app, loaded):  # noqa: F811
    created = {(e.action, e.summary) for e in _entries(app)}
    assert {("workshop.create", "Riverside Sewing School"), ("product.create", "Tote"),
            ("variant.create", "TOTE-N"), ("variant.create", "NECK-1"),
            ("trainee.create", "T001")} <= created  # fmt: skip

    assert loaded("batches", BATCHES).exit_code == 0
    # A legal name changed and a move to another workshop, by a second import.
    moved = TRAINEES_HEADER + "T001,Sokha Renamed,Dara,yes,lantern,2025-A\n"
    assert loaded("trainees", moved).exit_code == 0
    again = loaded("trainees", moved)  # nothing changes: nothing is recorded
    assert again.exit_code == 0

    entries = _entries(app)
    updates = [e for e in entries if e.action == "trainee.update"]
    assert len(updates) == 1
    (update,) = updates
    assert update.before["legal_name"] == "(private)"
    assert update.after["legal_name"] == "(private: changed)"
    assert set(update.after) == {"legal_name", "workshop_id"}
    assert [e.summary for e in entries if e.action == "batch.record"] == [
        "Batch B-1: 10 x TOTE-N", "Batch B-2: 5 x TOTE-N", "Batch B-3: 3 x NECK-1"
    ]  # fmt: skip
    workshop = next(e for e in entries if e.summary == "Riverside Sewing School")
    assert workshop.after["address"] == "(private: set)"
    everything = json.dumps([(e.summary, e.before, e.after) for e in entries])
    for private in ("Sokha", "Renamed", "12 Secret St", "+855 1"):
        assert private not in everything
    assert all(e.actor_id is None and e.address == "command line" for e in entries)

    with app.app_context():
        staff_page = client_as(app, "staff").get("/staff/audit").get_data(as_text=True)
        admin_page = client_as(app, "admin").get("/admin/audit").get_data(as_text=True)
    assert "trainee.update: T001" in staff_page and "<td>command line</td>" in staff_page
    assert "batch.record: Batch B-3" in admin_page and "<td>command line</td>" in admin_page
