"""Issue 12's outside attack: what a signed credential must not tell, or keep telling.

A country withheld later is not served from the versions that named it; a suspended
workshop's facility record claims no conformance; no credential dates a vetting visit or a
suspension to the second; nothing is signed under a guessed address; a retailer's checker
in a browser may read the linkset."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shop.extensions import db
from shop.identity import keys, signing
from shop.provenance.models import VettingKind, VettingOutcome, WorkshopStatus
from shop.provenance.services import record_vetting_event
from shop.timeutil import today, utcnow
from tests import factories as f
from tests.passports.helpers import fetch_credential, payload


def _vetted_batch(code: str = "LOC-1", **workshop):
    w = f.workshop(**workshop)
    f.vet(w)
    f.batch(f.product(w).variants[0], code=code)
    db.session.commit()
    return w


def test_versions_that_named_a_place_are_withdrawn_once_the_country_is_withheld(client, ctx):
    w = _vetted_batch(slug="riverside", country_code="KH", country_public=True, region="Kandal")
    old_passport = payload(fetch_credential(client, "/p/LOC-1/passport/1"))
    assert old_passport["credentialSubject"]["product"]["countryOfProduction"] == "KH"

    w.country_public = False
    db.session.commit()  # a new version of each is issued, naming no place
    for gone in ("/p/LOC-1/passport/1", "/workshops/riverside/facility-record/1"):
        answer = client.get(gone)
        assert answer.status_code == 410, gone
        assert "withdrawn" in answer.get_data(as_text=True)
        assert "KH" not in answer.get_data(as_text=True)
    for current in ("/p/LOC-1/passport", "/workshops/riverside/facility-record"):
        text = str(payload(fetch_credential(client, current)))
        assert "KH" not in text and "Kandal" not in text
    assert fetch_credential(client, "/p/LOC-1/passport/2")  # the version without a place

    w.country_public = True
    db.session.commit()
    assert client.get("/p/LOC-1/passport/1").status_code == 200  # published again


def test_a_suspended_workshops_facility_record_claims_no_conformance(client, ctx):
    w = _vetted_batch(slug="mekong")

    def conformance() -> set[bool]:
        record = payload(fetch_credential(client, "/workshops/mekong/facility-record"))
        return {claim["conformance"] for claim in record["credentialSubject"]["conformityClaim"]}

    assert conformance() == {True}
    record_vetting_event(w, kind=VettingKind.SUSPENDED, occurred_on=today(), author="Staff",
                         outcome=VettingOutcome.FAILED)  # fmt: skip
    db.session.commit()
    assert conformance() == {False}
    w.status = WorkshopStatus.ACTIVE  # the suspension lifted
    db.session.commit()
    assert conformance() == {True}


def test_no_credential_says_when_in_the_month_it_was_signed(client, ctx):
    w = _vetted_batch()
    record_vetting_event(w, kind=VettingKind.FOLLOW_UP_VISIT, occurred_on=today() - timedelta(days=2),
                         author="Staff", outcome=VettingOutcome.PASSED)  # fmt: skip
    db.session.commit()
    month = utcnow().strftime("%Y-%m-01T00:00:00Z")
    for url in ("/p/LOC-1/passport", "/credentials/status/1",
                f"/workshops/{w.slug}/facility-record"):  # fmt: skip
        assert payload(fetch_credential(client, url))["validFrom"] == month, url


def test_nothing_is_signed_under_a_guessed_address(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "")
    with pytest.raises(keys.NoSigningKey, match="PUBLIC_BASE_URL is not set"):
        signing.sign_jws({"a": 1}, "vc+jwt")


def test_a_browser_may_read_the_linkset(client, ctx):
    _vetted_batch()
    for asked in ({"query_string": {"linkType": "linkset"}},
                  {"headers": {"Accept": "application/linkset+json"}}):  # fmt: skip
        answer = client.get("/p/LOC-1", **asked)
        assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    moved = client.get("/p/LOC-1", query_string={"linkType": "untp:dpp"})
    assert moved.status_code == 307 and moved.headers["Access-Control-Allow-Origin"] == "*"
