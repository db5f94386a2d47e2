"""Issue 12's outside attack, what it left open: a draft's batch is not given away by a
passport or a status bit; a version withdrawn from view is revoked too; every term a
credential uses is UNTP's or defined in the store's own JSON-LD context, and one
link-type vocabulary serves the credentials and the linkset; each version has one
address; answers that are the same for everyone say so to caches (no `Vary: Cookie`)."""

from __future__ import annotations

import json

import pytest
from flask import current_app
from sqlalchemy import func, select

from shop.catalog.models import ProductStatus
from shop.extensions import db
from shop.passports.models import Credential
from shop.provenance.models import Batch, VettingKind, VettingOutcome
from shop.provenance.services import record_vetting_event
from shop.timeutil import today
from tests import factories as f
from tests.conftest import client_as
from tests.passports.helpers import (
    fetch_credential,
    payload,
    status_bit,
    status_index,
    untp_folder,
)
from tests.passports.test_revocation import _suspend


def _passports_of(code: str) -> int:
    return db.session.scalar(
        select(func.count(Credential.id)).join(Batch, Credential.batch_id == Batch.id)
        .where(Batch.code == code)
    )  # fmt: skip


def _revoked_bits(client) -> int:
    from shop.passports.status import decode

    listed = payload(fetch_credential(client, "/credentials/status/1"))
    return sum(bin(byte).count("1") for byte in decode(listed["credentialSubject"]["encodedList"]))


def test_a_draft_products_batches_get_no_passport_until_it_is_published(app, client, ctx):
    shown = f.workshop(slug="shown")
    f.vet(shown)
    f.batch(f.product(shown).variants[0], code="SHOWN-1")  # the status list exists
    hidden = f.workshop(slug="hidden")
    f.vet(hidden)
    draft = f.product(hidden, status=ProductStatus.DRAFT)
    f.batch(draft.variants[0], code="HIDDEN-1")
    db.session.commit()
    assert _passports_of("HIDDEN-1") == 0
    assert client.get("/p/HIDDEN-1/passport").status_code == 404

    # Suspending its workshop flips only its facility record's bit (a workshop is public):
    # nothing tells that a hidden batch exists.
    record = payload(fetch_credential(client, "/workshops/hidden/facility-record"))
    staff = client_as(app, "staff")
    assert _suspend(staff, hidden).status_code in (200, 302)
    assert status_bit(client, status_index(record)) is True
    assert _revoked_bits(client) == 1

    draft.status = ProductStatus.ACTIVE  # published: its passport, born revoked
    db.session.commit()
    assert _passports_of("HIDDEN-1") == 1
    passport = payload(fetch_credential(client, "/p/HIDDEN-1/passport"))
    assert status_bit(client, status_index(passport)) is True
    assert _revoked_bits(client) == 2


def test_a_version_withdrawn_from_view_is_revoked_where_a_copy_was_kept(client, ctx):
    w = f.workshop(slug="riverside", country_code="KH", country_public=True, region="Kandal")
    f.vet(w)
    f.batch(f.product(w).variants[0], code="LOC-1")
    db.session.commit()
    kept = {  # what a verifier saved while the country was published
        url: payload(fetch_credential(client, url))
        for url in ("/p/LOC-1/passport/1", "/workshops/riverside/facility-record/1")
    }
    assert all(not status_bit(client, status_index(c)) for c in kept.values())

    w.country_public = False
    db.session.commit()
    for url, credential in kept.items():
        assert client.get(url).status_code == 410, url
        assert status_bit(client, status_index(credential)) is True, url
    for current in ("/p/LOC-1/passport", "/workshops/riverside/facility-record"):
        credential = payload(fetch_credential(client, current))
        assert status_bit(client, status_index(credential)) is False, current

    w.country_public = True  # published again: the old versions are good again
    db.session.commit()
    for url, credential in kept.items():
        assert client.get(url).status_code == 200, url
        assert status_bit(client, status_index(credential)) is False, url


def _schema_terms() -> set[str]:
    """Every property name UNTP's three schemas define, at any depth."""
    names: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            names.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    folder = untp_folder()
    for name in ("DigitalProductPassport", "DigitalFacilityRecord", "DigitalConformityCredential"):
        walk(json.loads((folder / f"{name}-schema.json").read_text(encoding="utf-8")))
    return names


def _keys(node) -> set[str]:
    if isinstance(node, dict):
        return set(node).union(*(_keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_keys(v) for v in node)) if node else set()
    return set()


def test_every_term_is_untps_or_defined_in_the_stores_context(client, ctx):
    w = f.workshop(slug="terms")
    f.vet(w)
    f.batch(f.product(w).variants[0], code="T-1")
    db.session.commit()
    vocabulary = client.get("/credentials/vocabulary")
    assert vocabulary.status_code == 200 and vocabulary.mimetype == "application/ld+json"
    defined = vocabulary.get_json(force=True)["@context"]
    store_terms = {k for k in defined if not k.startswith("@")}
    assert store_terms == {"productionMonth", "assessmentMonth"}
    assert all(d["@type"].endswith("#gYearMonth") for k, d in defined.items() if k in store_terms)

    passport = payload(fetch_credential(client, "/p/T-1/passport"))
    record = payload(fetch_credential(client, "/workshops/terms/facility-record"))
    evidence = passport["credentialSubject"]["conformityClaim"][0]["conformityEvidence"]
    conformity = payload(fetch_credential(client, evidence["linkURL"]))
    vc_terms = {"@context", "id", "type", "issuer", "validFrom", "credentialSubject",
                "credentialStatus", "statusPurpose", "statusListIndex", "statusListCredential"}  # fmt: skip
    known = _schema_terms() | vc_terms | store_terms
    for credential in (passport, record, conformity):
        assert credential["@context"][-1] == "http://localhost/credentials/vocabulary"
        assert _keys(credential) - known == set(), credential["type"]
    assert passport["credentialSubject"]["product"]["productionMonth"]

    # One link-type vocabulary: the credential's links and the linkset's relation types.
    linkset = client.get("/p/T-1", query_string={"linkType": "linkset"}).get_json(force=True)
    relations = set(linkset["linkset"][0])
    link_types = {link["linkType"] for link in passport["credentialSubject"]["product"]["furtherInformation"]}  # fmt: skip
    link_types.add(evidence["linkType"])
    untp = {t for t in link_types if "uncefact" in t}
    assert untp and all(
        t.startswith("https://vocabulary.uncefact.org/untp/linkType#") for t in untp
    )
    assert "https://vocabulary.uncefact.org/untp/linkType#dfr" in relations & link_types
    assert "https://gs1.org/voc/pip" in relations & link_types


def test_an_option_named_like_a_term_stays_text(client, ctx):
    w = f.workshop(slug="opts")
    f.vet(w)
    product = f.product(w)
    product.variants[0].options = {"type": "tote", "@id": "https://evil.example/", "size": "M"}
    f.batch(product.variants[0], code="O-1")
    db.session.commit()
    item = payload(fetch_credential(client, "/p/O-1/passport"))["credentialSubject"]["product"]
    assert item["type"] == ["Product"] and "@id" not in _keys(item)
    assert item["description"].endswith("(type: tote, @id: https://evil.example/, size: M)")


def test_each_version_has_one_address(client, ctx):
    w = f.workshop(slug="one")
    f.vet(w)
    f.batch(f.product(w).variants[0], code="V-1")
    db.session.commit()
    for written, canonical in (("/p/V-1/passport/01", "/p/V-1/passport/1"),
                               ("/workshops/one/facility-record/001", "/workshops/one/facility-record/1")):  # fmt: skip
        moved = client.get(written)
        assert moved.status_code == 308, written
        assert moved.headers["Location"].endswith(canonical)
        assert client.get(canonical).status_code == 200


def test_answers_the_same_for_everyone_do_not_vary_by_cookie(client, ctx):
    w = f.workshop(slug="cache")
    f.vet(w)
    product = f.product(w)
    f.batch(product.variants[0], code="C-1")
    db.session.commit()
    # A visitor with a session (a cart) asks, as a browser checking a tag would.
    client.post("/cart/add", data={"variant_id": product.variants[0].id, "quantity": "1"})
    for url, headers in (
        ("/p/C-1/passport", {}),
        ("/p/C-1/passport/1", {}),
        ("/p/C-1/passport/01", {}),
        ("/workshops/cache/facility-record", {}),
        ("/credentials/status/1", {}),
        ("/credentials/vocabulary", {}),
        ("/.well-known/did.json", {}),
        ("/p/C-1", {"Accept": "application/linkset+json"}),
        ("/p/C-1?linkType=untp:dpp", {}),
        ("/p/NO-SUCH", {"Accept": "application/linkset+json"}),
        ("/api/v1/products", {}),
        ("/api/v1/batches/C-1/verify", {}),
    ):
        answer = client.get(url, headers=headers)
        assert answer.status_code in (200, 307, 308, 404), url
        assert "Cookie" not in answer.headers.get("Vary", ""), url
        assert "Set-Cookie" not in answer.headers, url
    # The batch's page shows the cart in its header: it does vary by cookie.
    assert "Cookie" in client.get("/p/C-1").headers["Vary"]


def test_a_follow_up_visit_still_issues_new_versions_of_a_drafts_batch_once_shown(client, ctx):
    """A draft's batch is left out of every bringing-up-to-date, not only the first."""
    w = f.workshop(slug="later")
    f.vet(w)
    draft = f.product(w, status=ProductStatus.DRAFT)
    f.batch(draft.variants[0], code="L-1")
    db.session.commit()
    record_vetting_event(w, kind=VettingKind.FOLLOW_UP_VISIT, occurred_on=today(),
                         author="Staff", outcome=VettingOutcome.PASSED)  # fmt: skip
    db.session.commit()
    assert _passports_of("L-1") == 0
    draft.status = ProductStatus.ACTIVE
    db.session.commit()
    assert _passports_of("L-1") == 1


# --- The second outside attack -----------------------------------------------------------


def _shown_then_hidden(code: str, **workshop):
    """A batch whose passport was issued while its product was shown, then the product
    made a draft again (copies of the passport are out there)."""
    w = f.workshop(**workshop)
    f.vet(w)
    product = f.product(w)
    f.batch(product.variants[0], code=code)
    db.session.commit()
    saved = payload(fetch_credential(current_app.test_client(), f"/p/{code}/passport"))
    product.status = ProductStatus.DRAFT
    db.session.commit()
    return w, saved


def test_a_drafts_passports_still_follow_a_recall_a_suspension_and_a_withheld_country(
    app, client, ctx
):
    from shop.passports.recall import recall_batch

    w, saved = _shown_then_hidden("H-1", slug="h", country_code="KH", country_public=True)
    index = status_index(saved)
    w.country_public = False  # the saved copy names the country
    db.session.commit()
    assert status_bit(client, index) is True
    w.country_public = True
    db.session.commit()
    assert status_bit(client, index) is False
    staff = client_as(app, "staff")
    _suspend(staff, w)
    assert status_bit(client, index) is True
    staff.post(f"/staff/workshops/{w.id}/reinstate", data={"reason": "Reviewed."})
    assert status_bit(client, index) is False
    recall_batch(db.session.scalars(select(Batch).where(Batch.code == "H-1")).one())
    db.session.commit()
    assert status_bit(client, index) is True


def test_old_facility_records_that_claim_conformance_are_revoked_while_suspended(app, client, ctx):
    w = f.workshop(slug="susp")
    f.vet(w)
    db.session.commit()
    claiming = payload(fetch_credential(client, "/workshops/susp/facility-record"))
    assert {c["conformance"] for c in claiming["credentialSubject"]["conformityClaim"]} == {True}
    staff = client_as(app, "staff")
    _suspend(staff, w)
    current = payload(fetch_credential(client, "/workshops/susp/facility-record"))
    assert status_bit(client, status_index(claiming)) is True
    assert status_bit(client, status_index(current)) is False  # it claims no conformance
    staff.post(f"/staff/workshops/{w.id}/reinstate", data={"reason": "Reviewed."})
    assert status_bit(client, status_index(claiming)) is False


def test_versions_are_cached_briefly_since_they_can_be_withdrawn(client, ctx):
    w = f.workshop(slug="brief")
    f.vet(w)
    f.batch(f.product(w).variants[0], code="B-1")
    db.session.commit()
    for url in ("/p/B-1/passport/1", "/workshops/brief/facility-record/1"):
        cache = client.get(url).headers["Cache-Control"]
        assert "immutable" not in cache and "max-age=300" in cache, url


@pytest.mark.parametrize("url", [
    "/p/%0d%0aX/passport/01", "/p/%0aX/passport/01", "/workshops/%0aX/facility-record/01",
    "/workshops/%2e%2e/facility-record/01", "/p/X/passport/-1",
    "/p/X/passport/99999999999999999999999", "/workshops/x/facility-record/2.0",
])  # fmt: skip
def test_odd_version_addresses_are_a_plain_404_never_a_500_or_a_redirect(client, ctx, url):
    answer = client.get(url)
    assert answer.status_code == 404, url
    assert answer.mimetype == "text/plain" and "Location" not in answer.headers
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_refusals_and_preflights_are_readable_from_a_retailers_page(client, ctx):
    w = f.workshop(slug="cors", country_code="KH", country_public=True)
    f.vet(w)
    f.batch(f.product(w).variants[0], code="CO-1")
    db.session.commit()
    w.country_public = False
    db.session.commit()
    gone = client.get("/p/CO-1/passport/1")
    assert gone.status_code == 410 and gone.headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options("/p/CO-1/passport", headers={
        "Origin": "https://retailer.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "If-None-Match"})  # fmt: skip
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "If-None-Match" in preflight.headers["Access-Control-Allow-Headers"]


def test_the_tags_page_says_the_batch_was_recalled(client, ctx):
    from shop.passports.recall import recall_batch

    w = f.workshop(slug="rec")
    f.vet(w)
    batch = f.batch(f.product(w).variants[0], code="R-1")
    db.session.commit()
    assert "was recalled" not in client.get("/p/R-1").get_data(as_text=True)
    recall_batch(batch)
    db.session.commit()
    page = client.get("/p/R-1").get_data(as_text=True)
    assert "This batch was recalled" in page and "(now revoked)" in page


def test_a_jose_key_set_from_the_did_document_finds_the_key(client, ctx):
    from jwcrypto import jwk, jws

    w = f.workshop(slug="jwks")
    f.vet(w)
    f.batch(f.product(w).variants[0], code="J-1")
    db.session.commit()
    document = client.get("/.well-known/did.json").get_json(force=True)
    keys = jwk.JWKSet()
    for method in document["verificationMethod"]:
        keys.add(jwk.JWK(**method["publicKeyJwk"]))
    token = jws.JWS()
    token.deserialize(fetch_credential(client, "/p/J-1/passport"))
    token.verify(keys)  # looked up by the header's kid, as JOSE libraries do


def test_a_linkset_asked_with_its_profile_parameter_is_the_linkset(client, ctx):
    w = f.workshop(slug="prof")
    f.vet(w)
    f.batch(f.product(w).variants[0], code="P-1")
    db.session.commit()
    asked = client.get("/p/P-1", headers={
        "Accept": 'application/linkset+json; profile="https://www.gs1.org/voc/?show=linktypes"'})  # fmt: skip
    assert asked.status_code == 200 and asked.mimetype == "application/linkset+json"
    both = client.get(
        "/p/P-1", headers={"Accept": "application/linkset+json;profile=x, text/html;q=0.5"}
    )
    assert both.mimetype == "application/linkset+json"


def test_a_refusal_repeats_no_control_character_of_the_address(client, ctx):
    answer = client.get("/p/A%1B%5B31mB/passport")
    assert answer.status_code == 404
    assert "\x1b" not in answer.get_data(as_text=True) and "A?[31mB" in answer.get_data(
        as_text=True
    )


def test_a_post_to_a_credential_is_refused_in_plain_text_with_allow(client, ctx):
    w = f.workshop(slug="post")
    f.vet(w)
    f.batch(f.product(w).variants[0], code="PO-1")
    db.session.commit()
    for url in ("/p/PO-1/passport", "/p/PO-1/passport/1", "/workshops/post/facility-record",
                "/credentials/status/1"):  # fmt: skip
        refused = client.post(url)
        assert refused.status_code == 405, url
        assert refused.mimetype == "text/plain" and "GET" in refused.headers["Allow"], url
        assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert client.post("/p/PO-1").mimetype == "text/html"  # the page's own refusal stays
