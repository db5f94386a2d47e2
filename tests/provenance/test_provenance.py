import io
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from shop.extensions import db
from shop.provenance.models import (
    Batch,
    Trainee,
    VettingEvent,
    VettingKind,
    VettingOutcome,
    Workshop,
    WorkshopStatus,
)
from shop.provenance.services import (
    ProvenanceError,
    record_vetting_event,
    vetting_summary,
)
from shop.timeutil import today
from shop.visibility import public_field_names, public_view
from tests import factories as f

ON = date(2026, 11, 22)


def _event(kind, days_ago, outcome=VettingOutcome.PASSED):
    return VettingEvent(
        kind=kind, occurred_on=ON - timedelta(days=days_ago), author="s", outcome=outcome
    )


def test_vetting_summary_counts_passed_steps_and_the_last_visit():
    events = [
        _event(VettingKind.INTERVIEW, 400),
        _event(VettingKind.INITIAL_SITE_VISIT, 390),
        _event(VettingKind.STANDARDS_CHECK, 380, VettingOutcome.NEEDS_ACTION),
        _event(VettingKind.AGREEMENT_SIGNED, 370),
        _event(VettingKind.FOLLOW_UP_VISIT, 200),
    ]
    summary = vetting_summary(events, WorkshopStatus.ACTIVE, 180, ON)
    assert summary.steps_done == (
        VettingKind.INTERVIEW, VettingKind.INITIAL_SITE_VISIT, VettingKind.AGREEMENT_SIGNED,
    )  # fmt: skip
    assert not summary.vetted  # the standards check has not passed
    assert summary.last_visit == ON - timedelta(days=200)
    assert summary.last_visit_month == date(2026, 5, 1)
    assert summary.overdue

    events.append(_event(VettingKind.STANDARDS_CHECK, 100))
    events.append(_event(VettingKind.FOLLOW_UP_VISIT, 30))
    summary = vetting_summary(events, WorkshopStatus.ACTIVE, 180, ON)
    assert summary.vetted and not summary.overdue

    suspended = vetting_summary(events, WorkshopStatus.SUSPENDED, 180, ON)
    assert not suspended.vetted and suspended.suspended


def test_a_workshop_never_visited_is_overdue_for_staff():
    assert vetting_summary([], WorkshopStatus.ACTIVE, 180, ON).overdue


def test_recording_a_suspension_suspends_the_workshop(ctx):
    w = f.workshop()
    record_vetting_event(w, kind=VettingKind.SUSPENDED, occurred_on=today(), author="Staff")
    assert db.session.get(Workshop, w.id).status == WorkshopStatus.SUSPENDED


def test_vetting_events_cannot_be_in_the_future_or_anonymous(ctx):
    w = f.workshop()
    with pytest.raises(ProvenanceError, match="future"):
        record_vetting_event(
            w, kind=VettingKind.INTERVIEW, occurred_on=today() + timedelta(days=1), author="S"
        )
    with pytest.raises(ProvenanceError, match="staff member"):
        record_vetting_event(w, kind=VettingKind.INTERVIEW, occurred_on=today(), author=" ")


def test_a_batch_must_match_its_workshop_and_makers(ctx):
    w, other = f.workshop(), f.workshop()
    variant = f.product(w).variants[0]
    outsider = f.trainee(other)
    insider = f.trainee(w)
    with pytest.raises(ProvenanceError, match="another workshop"):
        f.batch(variant, workshop=other)
    with pytest.raises(ProvenanceError, match="cannot be named as a maker"):
        f.batch(variant, makers=[(outsider, 1)])
    with pytest.raises(ProvenanceError, match="listed twice"):
        f.batch(variant, makers=[(insider, 1), (insider, 2)])
    with pytest.raises(ProvenanceError, match="weight"):
        f.batch(variant, makers=[(insider, 0)])
    f.batch(variant, code="B-ONCE", makers=[(insider, 2)])
    with pytest.raises(ProvenanceError, match="recorded before"):
        f.batch(variant, code="B-ONCE")
    assert db.session.scalar(select(db.func.count(Batch.id))) == 1


def test_batch_page_shows_workshop_month_crafts_materials_and_qr_but_no_makers(client, ctx):
    w = f.workshop(name="Mekong Stitch Works", crafts=["sewing", "screen printing"])
    f.vet(w)
    p = f.product(w, name="Buy Her Bag Tote")
    maker = f.trainee(w, legal_name="Sokha Example", alias="Dara", alias_consent=True, code="KH-77")
    batch = f.batch(
        p.variants[0], code="MS-2026-03-X", makers=[(maker, 3)], materials="12 oz canvas"
    )
    db.session.commit()
    page = client.get(f"/p/{batch.code}").get_data(as_text=True)
    for expected in (
        "Batch MS-2026-03-X",
        "Mekong Stitch Works",
        "March 2026",
        "screen printing",
        "12 oz canvas",
        "Buy Her Bag Tote",
        "Vetted partner",
        "/p/MS-2026-03-X/qr.svg",
    ):
        assert expected in page
    for secret in ("Sokha", "Dara", "KH-77"):
        assert secret not in page

    qr = client.get(f"/p/{batch.code}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    assert qr.get_data(as_text=True).lstrip().startswith("<svg")
    assert client.get("/p/NOPE/qr.svg").status_code == 404


def test_qr_code_points_at_the_public_base_url_when_configured(client, ctx, app):
    import segno

    p = f.product(f.workshop())
    f.batch(p.variants[0], code="QR-1")
    db.session.commit()
    configured = app.config["PUBLIC_BASE_URL"]  # the app is shared: put it back as it was
    app.config["PUBLIC_BASE_URL"] = "https://shop.example"
    try:
        svg = client.get("/p/QR-1/qr.svg").get_data()
        page = client.get("/p/QR-1").get_data(as_text=True)
    finally:
        app.config["PUBLIC_BASE_URL"] = configured
    assert "https://shop.example/p/QR-1" in page
    # the served SVG is exactly the code segno makes for the public URL
    expected = io.BytesIO()
    segno.make("https://shop.example/p/QR-1", error="m").save(
        expected, kind="svg", scale=6, border=2, dark="#1f2a2e", xmldecl=False, title="Batch QR-1"
    )
    assert svg == expected.getvalue()


def test_workshop_pages_list_workshops_and_their_products(client, ctx):
    w = f.workshop(
        name="Bihar Livelihoods Workshop",
        country_code="IN",
        region="Bihar",
        crafts=["block printing"],
    )
    f.vet(w)
    f.product(w, name="Market Cloth Bag")
    db.session.commit()
    listing = client.get("/workshops").get_data(as_text=True)
    assert "Bihar Livelihoods Workshop" in listing and "Bihar, India" in listing
    page = client.get(f"/workshops/{w.slug}").get_data(as_text=True)
    assert "Market Cloth Bag" in page and "block printing" in page and "Vetted partner" in page


def test_aliases_show_only_with_consent_and_never_alone(client, ctx):
    w = f.workshop()
    # Legal names of their own: the factory's ("Legal Name 1380") fold digits to letters
    # ("iegai name ie o"), and past some count one of them "gives away" an alias.
    f.trainee(w, alias="Dara", alias_consent=True, legal_name="Chan Sokha")
    f.trainee(w, alias="Mealea", alias_consent=True, legal_name="Heng Vanna")
    f.trainee(w, alias="NoConsent", alias_consent=False)
    db.session.commit()
    page = client.get(f"/workshops/{w.slug}").get_data(as_text=True)
    assert "Dara" not in page  # two consenting aliases are too few to show
    f.trainee(w, alias="Bopha", alias_consent=True, legal_name="Kim Srey")
    db.session.commit()
    page = client.get(f"/workshops/{w.slug}").get_data(as_text=True)
    assert "Bopha, Dara, Mealea" in page
    assert "NoConsent" not in page


def test_a_withheld_country_hides_country_and_region(client, ctx):
    w = f.workshop(
        name="Hidden Studio", country_code="MN", country_public=False, region="Ulaanbaatar"
    )
    f.product(w, name="Lantern Necklace")
    db.session.commit()
    for url in ("/workshops", f"/workshops/{w.slug}", "/products"):
        page = client.get(url).get_data(as_text=True)
        assert "Mongolia" not in page and "Ulaanbaatar" not in page
        assert "withheld" in page.lower()


def test_provenance_fields_are_private_unless_declared_public():
    assert set(public_field_names(Workshop)) == {
        "public_id", "slug", "name", "kind", "country_public", "region", "crafts", "story",
        "partner_since", "status",
    }  # fmt: skip
    assert set(public_field_names(Batch)) == {"code", "produced_month", "materials"}
    assert public_field_names(Trainee) == []
    assert set(public_field_names(VettingEvent)) == {"kind"}


def test_public_view_carries_no_private_field(ctx):
    w = f.workshop(address="1 Secret Lane", contact="+855 1", head_count=12, latitude=11.5)
    view = vars(public_view(w))
    for private in (
        "address",
        "contact",
        "head_count",
        "latitude",
        "longitude",
        "country_code",
        "id",
    ):
        assert private not in view
    assert view["name"] == w.name
