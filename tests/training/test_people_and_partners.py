"""Staff manage trainees and workshops: people changes are audited, a suspension
takes products off sale at once and the shop never names the concern."""

from __future__ import annotations

import html
from datetime import timedelta

from sqlalchemy import select

from shop.audit.models import AuditEntry
from shop.extensions import db
from shop.provenance.models import Trainee, VettingKind, Workshop, WorkshopStatus
from shop.timeutil import today
from shop.training.models import LedgerAccount
from tests import factories as f


def test_staff_create_and_edit_trainees_and_every_change_is_audited(app, staff_client):
    home, other = f.workshop(name="Home Workshop"), f.workshop(name="Other Workshop")
    db.session.commit()
    form = {"code": "KH-NEW-1", "legal_name": "Srey Legal", "alias": "Bopha", "workshop_id": home.id,
            "cohort": "2026-B", "active": "y"}  # fmt: skip
    bad = staff_client.post("/staff/trainees/new", data={**form, "alias": "", "alias_consent": "y"})
    assert bad.status_code == 400 and "is needed when she consents" in bad.get_data(as_text=True)
    assert staff_client.post("/staff/trainees/new", data=form).status_code == 302
    trainee = db.session.scalars(select(Trainee).where(Trainee.code == "KH-NEW-1")).one()
    account = db.session.scalars(
        select(LedgerAccount).where(LedgerAccount.trainee_id == trainee.id)
    ).one()
    assert account.workshop_id == home.id

    page = staff_client.get(f"/staff/trainees/{trainee.id}").get_data(as_text=True)
    assert "Srey Legal" in page
    public = app.test_client().get(f"/workshops/{home.slug}").get_data(as_text=True)
    assert "Srey Legal" not in public and "KH-NEW-1" not in public

    duplicate = staff_client.post("/staff/trainees/new", data=form)
    assert duplicate.status_code == 400 and "already used" in duplicate.get_data(as_text=True)
    moved = staff_client.post(f"/staff/trainees/{trainee.id}/edit",
                              data={**form, "workshop_id": other.id, "alias_consent": "y"})  # fmt: skip
    assert moved.status_code == 302
    db.session.expire_all()
    assert db.session.get(LedgerAccount, account.id).workshop_id == other.id
    assert db.session.get(Trainee, trainee.id).alias_consent is True
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.target_type == "trainee").order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == ["trainee.create", "trainee.update"]
    # Trainee fields are private: the entry says which changed, never their values.
    assert entries[1].before == {"alias_consent": "(private)", "workshop_id": "(private)"}
    assert entries[1].after == {
        "alias_consent": "(private: changed)",
        "workshop_id": "(private: changed)",
    }
    assert entries[1].actor_id == staff_client.person.id


def test_a_suspension_stops_sales_at_once_without_naming_the_concern(app, staff_client):
    w = f.workshop(name="Paused Workshop")
    f.vet(w, last_visit_days_ago=10)
    product = f.product(w, price=1000)
    f.batch(product.variants[0], quantity=5)
    db.session.commit()
    shopper = app.test_client()
    assert (
        shopper.post(
            "/cart/add", data={"variant_id": product.variants[0].id, "quantity": "1"}
        ).status_code
        == 302
    )

    future = staff_client.post(
        f"/staff/workshops/{w.id}/vetting",
        data={"kind": "suspended", "occurred_on": (today() + timedelta(days=2)).isoformat(),
              "outcome": "failed", "notes": "x"},
    )  # fmt: skip
    assert future.status_code == 400 and "future" in future.get_data(as_text=True)
    concern = "Report of unpaid overtime at the Kampot site"
    staff_client.post(
        f"/staff/workshops/{w.id}/vetting",
        data={"kind": "suspended", "occurred_on": today().isoformat(), "outcome": "failed",
              "notes": concern},
    )  # fmt: skip
    assert db.session.get(Workshop, w.id).status == WorkshopStatus.SUSPENDED

    page = shopper.get(f"/products/{product.slug}").get_data(as_text=True)
    assert "sales from Paused Workshop are paused while our staff review the partnership" in page
    assert concern not in page and "overtime" not in page
    cart = html.unescape(shopper.get("/cart").get_data(as_text=True))
    assert f"{product.name} can't be bought at the moment." in cart
    refused = shopper.post("/cart/add", data={"variant_id": product.variants[0].id, "quantity": "1"},
                           follow_redirects=True)  # fmt: skip
    assert "can't be bought" in html.unescape(refused.get_data(as_text=True))
    staff_page = staff_client.get(f"/staff/workshops/{w.id}").get_data(as_text=True)
    assert concern in staff_page  # staff see the notes

    staff_client.post(
        f"/staff/workshops/{w.id}/reinstate", data={"reason": "Follow-up visit passed"}
    )
    assert db.session.get(Workshop, w.id).status == WorkshopStatus.ACTIVE
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.target_id == w.id)
    ).all()
    assert "vetting.record" in actions and "workshop.reinstate" in actions


def test_the_overdue_list_shows_only_workshops_past_the_visit_interval(app, staff_client):
    fresh, stale = f.workshop(name="Fresh Visit"), f.workshop(name="Stale Visit")
    f.vet(fresh, last_visit_days_ago=10)
    f.vet(stale, last_visit_days_ago=app.config["VETTING_VISIT_INTERVAL_DAYS"] + 5)
    db.session.commit()
    page = staff_client.get("/staff/workshops?overdue=1").get_data(as_text=True)
    assert "Stale Visit" in page and "Fresh Visit" not in page
    assert VettingKind.SUSPENDED.label in staff_client.get(f"/staff/workshops/{fresh.id}").get_data(
        as_text=True
    )


def _trainee_rows():
    return db.session.execute(
        select(Trainee.id, Trainee.code, Trainee.legal_name, Trainee.alias, Trainee.alias_consent,
               Trainee.workshop_id).order_by(Trainee.id)
    ).all()  # fmt: skip


def test_the_form_refuses_an_alias_that_is_part_of_the_legal_name(app, staff_client):
    home = f.workshop(name="Home Workshop")
    db.session.commit()
    form = {"code": "KH-ALIAS-1", "legal_name": "Sreý Mom Chan", "alias": "Dara",
            "workshop_id": home.id, "active": "y"}  # fmt: skip
    for alias in (
        "Srey",
        "SREY",
        "chan",
        "Mom",
        "Srey Mom Chan",
        "Lily Chan",
        "C h a n",
        "S-r-e-y",
        "Cha.n",
    ):  # spacing and punctuation hide nothing
        before = _trainee_rows()
        refused = staff_client.post("/staff/trainees/new",
                                    data={**form, "alias": alias, "alias_consent": "y"})  # fmt: skip
        page = refused.get_data(as_text=True)
        assert refused.status_code == 400, alias
        assert "must not be part of the trainee&#39;s legal name" in page, alias
        assert _trainee_rows() == before
    assert staff_client.post("/staff/trainees/new", data=form).status_code == 302
    trainee = db.session.scalars(select(Trainee).where(Trainee.code == "KH-ALIAS-1")).one()

    before = _trainee_rows()
    refused = staff_client.post(f"/staff/trainees/{trainee.id}/edit",
                                data={**form, "alias": "Sreý", "alias_consent": "y"})  # fmt: skip
    assert refused.status_code == 400
    assert "must not be part of the trainee&#39;s legal name" in refused.get_data(as_text=True)
    assert _trainee_rows() == before
    assert db.session.get(Trainee, trainee.id).alias == "Dara"


def _import_trainees(app, tmp_path, content: str):
    path = tmp_path / "trainees.csv"
    path.write_text(content, encoding="utf-8")
    return app.test_cli_runner().invoke(args=["trainees", "import", str(path)])


def test_the_import_refuses_what_the_form_refuses(app, staff_client, tmp_path):
    w = f.workshop(slug="riverside-x")
    db.session.commit()
    data = "code,legal_name,alias,alias_consent,workshop_slug,cohort\nT-ACC,Chénda Lim,chenda,yes,riverside-x,\n"
    result = _import_trainees(app, tmp_path, data)
    assert result.exit_code == 1
    assert "row 2, column 'alias': must not be part of the trainee's legal name" in result.output
    assert w.id and _trainee_rows() == []


def test_a_trainee_moved_by_the_import_takes_her_account_along(app, ctx, tmp_path):
    home, other = f.workshop(slug="home-y"), f.workshop(slug="other-y")
    t = f.trainee(home)
    db.session.commit()
    header = "code,legal_name,alias,alias_consent,workshop_slug,cohort\n"
    result = _import_trainees(app, tmp_path, f"{header}{t.code},{t.legal_name},,no,other-y,\n")
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    account = db.session.scalars(
        select(LedgerAccount).where(LedgerAccount.trainee_id == t.id)
    ).one()
    assert account.workshop_id == other.id


def test_the_form_refuses_a_nul_byte_with_a_message_not_a_500(app, staff_client):
    home = f.workshop()
    db.session.commit()
    before = _trainee_rows()
    refused = staff_client.post("/staff/trainees/new", data={
        "code": "KH-NUL", "legal_name": "Srey\x00Mom", "workshop_id": home.id})  # fmt: skip
    assert refused.status_code == 400
    assert "NUL character" in refused.get_data(as_text=True)
    assert _trainee_rows() == before
