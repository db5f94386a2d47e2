"""The audit log never holds a private field in clear, and each back office sees only its
own area's entries (issue 9, defect 11)."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select

from shop.audit.models import AuditEntry
from shop.audit.services import PRIVATE_AFTER, PRIVATE_BEFORE, record
from shop.extensions import db
from shop.provenance.models import Trainee
from tests import factories as f
from tests.conftest import client_as

SECRETS = [
    "Sopheap Secretname", "Bopha Otherlegal",  # a trainee's legal name, before and after
    "12 Hidden Street", "99 Shelter Lane",  # a workshop's address, before and after
    "+855 11 223 344", "+855 99 887 766",  # its contact
]  # fmt: skip


def _audit_text() -> str:
    rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    return json.dumps([[e.action, e.summary, e.before, e.after] for e in rows])


def test_private_fields_changed_through_staff_forms_never_enter_the_audit_log(
    app, staff_client, caplog
):
    caplog.set_level(logging.DEBUG)
    w = f.workshop(name="Quiet Workshop", address=SECRETS[2], contact=SECRETS[4], head_count=4817)
    db.session.commit()
    form = {"code": "KH-PRIV-1", "legal_name": SECRETS[0], "alias": "Dara", "workshop_id": w.id,
            "active": "y"}  # fmt: skip
    assert staff_client.post("/staff/trainees/new", data=form).status_code == 302
    trainee = db.session.scalars(select(Trainee).where(Trainee.code == "KH-PRIV-1")).one()
    edited = staff_client.post(
        f"/staff/trainees/{trainee.id}/edit", data={**form, "legal_name": SECRETS[1]}
    )
    assert edited.status_code == 302
    details = {"details-address": SECRETS[3], "details-contact": SECRETS[5],
               "details-head_count": "5923"}  # fmt: skip
    assert staff_client.post(f"/staff/workshops/{w.id}/details", data=details).status_code == 302
    db.session.expire_all()
    assert db.session.get(Trainee, trainee.id).legal_name == SECRETS[1]  # the change was made
    assert (w.address, w.contact, w.head_count) == (SECRETS[3], SECRETS[5], 5923)
    admin_entry = record("product.update", "product", 1, summary="Price of a tote changed")
    db.session.commit()

    logged = _audit_text()
    assert [s for s in [*SECRETS, "4817", "5923"] if s in logged] == []
    entries = {e.action: e for e in db.session.scalars(select(AuditEntry))}
    update = entries["trainee.update"]
    assert update.before == {"legal_name": PRIVATE_BEFORE}  # says THAT it changed, only that
    assert update.after == {"legal_name": PRIVATE_AFTER}
    changed = entries["workshop.details"]
    assert set(changed.after) == {"address", "contact", "head_count"}
    assert set(changed.after.values()) == {PRIVATE_AFTER}

    staff_page = staff_client.get("/staff/audit").get_data(as_text=True)
    assert "trainee.update" in staff_page and "legal_name" in staff_page
    assert "workshop.details" in staff_page and "address" in staff_page
    assert admin_entry.summary not in staff_page  # the shop's entries are the admins'
    admin_page = client_as(app, "admin").get("/admin/audit").get_data(as_text=True)
    assert admin_entry.summary in admin_page
    assert "trainee." not in admin_page and "workshop." not in admin_page
    assert "KH-PRIV-1" not in admin_page and "Quiet Workshop" not in admin_page
    for page in (staff_page, admin_page):
        assert [s for s in SECRETS if s in page] == []
    assert [s for s in SECRETS if s in caplog.text] == []


def test_a_private_field_handed_to_record_as_a_plain_value_is_withheld_too(ctx):
    w = f.workshop()
    entry = record("workshop.moved", "workshop", w.id,
                   before={"address": "Old Road 1", "status": "active"},
                   after={"address": "New Road 2", "status": "suspended"})  # fmt: skip
    assert entry.before == {"address": PRIVATE_BEFORE, "status": "active"}  # status is public
    assert entry.after == {"address": PRIVATE_AFTER, "status": "suspended"}
    created = record("trainee.create", "trainee", 1, after={"legal_name": "Somebody Real"})
    assert "Somebody Real" not in json.dumps(created.after)


def test_a_failed_statement_never_carries_a_legal_name_into_errors_or_logs(ctx):
    """Errors are logged with their message; the SQL's parameters stay out of it."""
    from sqlalchemy.exc import IntegrityError

    w = f.workshop()
    first = f.trainee(w, code="KH-DUP-1", legal_name="Sopheap Firstname")
    db.session.flush()
    nested = db.session.begin_nested()
    db.session.add(Trainee(code=first.code, legal_name=SECRETS[0], workshop_id=w.id, cohort="x"))
    try:
        db.session.flush()
    except IntegrityError as error:
        message = str(error)
    else:  # pragma: no cover - the duplicate code must be refused
        raise AssertionError("a duplicate trainee code was accepted")
    nested.rollback()
    assert "trainees" in message  # the statement is still there to debug with
    assert SECRETS[0] not in message and "Sopheap" not in message
