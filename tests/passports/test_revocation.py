"""Revocation through the Bitstring Status List at /credentials/status/1: suspending a
workshop revokes every version of its batches' passports in the same transaction, lifting
the suspension restores them, and an admin's "Recall batch" (after its confirmation page)
revokes a batch's for good."""

from __future__ import annotations

import contextlib
import threading

import pytest
from sqlalchemy import event, select

from shop.extensions import db
from shop.page_cache import version as storefront_version
from shop.passports import status
from shop.passports.models import Credential, StatusList
from shop.provenance.models import Batch, Workshop, WorkshopStatus
from shop.timeutil import today
from tests import factories as f
from tests.confirming import confirmed
from tests.conftest import client_as, warm_pool
from tests.passports.helpers import (
    did_document,
    fetch_credential,
    payload,
    status_bit,
    verify,
)


def _indexes(code: str) -> list[int]:
    """The status index of every version of a batch's passport."""
    return list(
        db.session.scalars(
            select(Credential.id)
            .join(Batch, Credential.batch_id == Batch.id)
            .where(Batch.code == code)
            .order_by(Credential.version)
        )
    )


@pytest.fixture
def two_workshops(ctx):
    """Workshop A with batches A-1 (two passport versions) and A-2; workshop B with B-1."""
    a, b = f.workshop(slug="a-works"), f.workshop(slug="b-works")
    for w in (a, b):
        f.vet(w)
    pa, pb = f.product(a), f.product(b)
    f.batch(pa.variants[0], code="A-1")
    db.session.commit()
    pa.name = "Renamed"  # a second version of A-1's passport
    f.batch(pa.variants[0], code="A-2")
    f.batch(pb.variants[0], code="B-1")
    db.session.commit()
    assert len(_indexes("A-1")) == 2
    return a, b


def _suspend(staff, workshop):
    return staff.post(f"/staff/workshops/{workshop.id}/vetting", data={
        "kind": "suspended", "occurred_on": today().isoformat(), "outcome": "passed",
        "notes": "Private: a concern is being looked into.",
    })  # fmt: skip


def test_suspending_revokes_every_passport_of_the_workshop_and_lifting_restores_them(
    app, client, two_workshops
):
    a, _b = two_workshops
    revoked_codes = ("A-1", "A-2")
    staff = client_as(app, "staff")
    assert not any(status_bit(client, i) for code in (*revoked_codes, "B-1") for i in _indexes(code))  # fmt: skip
    assert _suspend(staff, a).status_code == 302
    assert all(status_bit(client, i) for code in revoked_codes for i in _indexes(code))
    assert not any(status_bit(client, i) for i in _indexes("B-1"))
    # the list is signed, and verifies like every credential
    listed = verify(fetch_credential(client, "/credentials/status/1"), did_document(client))
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listed["credentialSubject"]["statusPurpose"] == "revocation"
    assert len(status.decode(listed["credentialSubject"]["encodedList"])) * 8 >= 131_072
    # the suspension issued nothing new: the same passports, now revoked
    assert len(_indexes("A-1")) == 2
    lifted = staff.post(f"/staff/workshops/{a.id}/reinstate", data={"reason": "Reviewed: fine."})
    assert lifted.status_code == 302
    assert not any(status_bit(client, i) for code in revoked_codes for i in _indexes(code))


def test_the_bits_flip_in_the_suspensions_own_transaction(app, client, two_workshops, monkeypatch):
    a, _b = two_workshops

    def failing(_status_list):
        raise RuntimeError("signing the list failed")

    monkeypatch.setattr(status, "resign", failing)
    staff = client_as(app, "staff")
    with pytest.raises(RuntimeError, match="signing the list failed"):
        _suspend(staff, a)
    monkeypatch.undo()
    # rolled back whole: the workshop was not suspended, and no bit flipped
    assert db.session.get(Workshop, a.id).status == WorkshopStatus.ACTIVE
    assert not any(status_bit(client, i) for i in _indexes("A-1") + _indexes("A-2"))
    assert not any(db.session.scalars(select(Credential.revoked)))


def test_a_passport_issued_while_its_workshop_is_suspended_is_born_revoked(client, two_workshops):
    a, _b = two_workshops
    a.status = WorkshopStatus.SUSPENDED
    db.session.commit()
    variant = db.session.scalars(select(Batch).where(Batch.code == "A-1")).one().variant
    f.batch(variant, code="A-3")
    db.session.commit()
    [index] = _indexes("A-3")
    assert status_bit(client, index)


def test_recalling_a_batch_needs_its_confirmation_and_revokes_every_version(
    app, client, two_workshops
):
    batch = db.session.scalars(select(Batch).where(Batch.code == "A-1")).one()
    admin = client_as(app, "admin")
    listing = admin.get("/admin/batches").get_data(as_text=True)
    assert "Recall batch A-1…" in listing and "Version 2" in listing
    # without the confirmation page: refused, nothing changed
    refused = admin.post(f"/admin/batches/{batch.id}/recall", data={})
    assert refused.status_code == 400 and "confirmation page first" in refused.get_data(
        as_text=True
    )
    assert db.session.get(Batch, batch.id).recalled_at is None
    assert not any(status_bit(client, i) for i in _indexes("A-1"))
    page = admin.get(f"/admin/batches/{batch.id}/recall").get_data(as_text=True)
    assert "Recall batch A-1?" in page and "Every version of its passport (2)" in page
    done = confirmed(admin, f"/admin/batches/{batch.id}/recall")
    assert done.status_code == 302
    assert db.session.get(Batch, batch.id).recalled_at is not None
    assert all(status_bit(client, i) for i in _indexes("A-1"))
    assert not any(status_bit(client, i) for i in _indexes("A-2"))  # its sibling is not
    assert "Recalled" in admin.get("/admin/batches?q=A-1").get_data(as_text=True)
    # a suspension lifted later leaves a recalled batch revoked
    staff = client_as(app, "staff")
    workshop = db.session.get(Workshop, batch.workshop_id)
    _suspend(staff, workshop)
    staff.post(f"/staff/workshops/{workshop.id}/reinstate", data={"reason": "Reviewed."})
    assert all(status_bit(client, i) for i in _indexes("A-1"))
    assert not any(status_bit(client, i) for i in _indexes("A-2"))
    # the passport itself never changed: the same JWS, its status read from the list
    assert payload(fetch_credential(client, "/p/A-1/passport/1"))["credentialStatus"]


def test_the_batches_list_takes_two_statements_whatever_their_number(app, two_workshops, count_queries):  # fmt: skip
    admin = client_as(app, "admin")
    admin.get("/admin/batches")

    def count() -> int:
        with count_queries() as q:
            assert admin.get("/admin/batches").status_code == 200
        return q.count

    few = count()
    variant = db.session.scalars(select(Batch).where(Batch.code == "B-1")).one().variant
    for i in range(6):
        f.batch(variant, code=f"MORE-{i}")
    db.session.commit()
    assert count() == few


def test_the_list_grows_by_its_step_to_hold_every_passport(app, ctx, monkeypatch):
    monkeypatch.setattr(status, "STEP", 8)
    listed = db.session.get(StatusList, status.STATUS_LIST_ID)
    listed.size_bits = 8
    db.session.commit()
    w = f.workshop()
    p = f.product(w)
    for i in range(10):
        f.batch(p.variants[0], code=f"G-{i}")
    db.session.commit()
    top = max(db.session.scalars(select(Credential.id)))
    listed = db.session.get(StatusList, status.STATUS_LIST_ID)
    assert listed.size_bits > top and listed.size_bits % 8 == 0
    encoded = payload(listed.jws)["credentialSubject"]["encodedList"]
    assert len(status.decode(encoded)) * 8 == listed.size_bits


def test_two_revocations_at_once_both_land(committed_app, monkeypatch):
    """A suspension and a recall committed at the same moment: the list each re-signs
    holds the other's bit too (the list's row is locked while it is re-signed)."""
    flipping = threading.Barrier(2, timeout=2)
    flip = status.apply_revocations

    def together(batch_ids, workshop_ids=()):
        # Both transactions have flipped their bits before either re-signs the list,
        # unless the first holds the list's lock (then the other waits for its commit
        # before flipping, and this barrier breaks after its timeout).
        flipped = flip(batch_ids, workshop_ids)
        with contextlib.suppress(threading.BrokenBarrierError):
            flipping.wait()
        return flipped

    monkeypatch.setattr(status, "apply_revocations", together)
    # Every such commit also rewrites the storefront version's row, which on its own
    # makes them wait for each other; without it, the list's lock alone must do it.
    with committed_app.app_context():
        session_class = db.session.session_factory.class_
    event.remove(session_class, "before_commit", storefront_version._write_token)
    try:
        _revoke_at_once(committed_app)
    finally:
        event.listen(session_class, "before_commit", storefront_version._write_token)


def _revoke_at_once(committed_app) -> None:
    with committed_app.app_context():
        a, b = f.workshop(slug="race-a"), f.workshop(slug="race-b")
        pa, pb = f.product(a), f.product(b)
        f.batch(pa.variants[0], code="RA-1")
        f.batch(pb.variants[0], code="RB-1")
        db.session.commit()
        a_id, batch_id = a.id, db.session.scalar(select(Batch.id).where(Batch.code == "RB-1"))
        db.session.remove()
    warm_pool(committed_app, 4)
    start = threading.Barrier(2)
    errors = []

    def suspend():
        try:
            with committed_app.app_context():
                start.wait()
                db.session.get(Workshop, a_id).status = WorkshopStatus.SUSPENDED
                db.session.commit()
        except Exception as exc:  # reported below
            errors.append(exc)

    def recall():
        try:
            with committed_app.app_context():
                from shop.passports.recall import recall_batch

                start.wait()
                recall_batch(db.session.get(Batch, batch_id))
                db.session.commit()
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=suspend), threading.Thread(target=recall)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with committed_app.app_context():
        client = committed_app.test_client()
        for code in ("RA-1", "RB-1"):
            assert all(status_bit(client, i) for i in _indexes(code)), code
