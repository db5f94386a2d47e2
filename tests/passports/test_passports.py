"""Signed passports (issue 12): a UNTP DigitalProductPassport per batch, a facility
record per workshop and a conformity credential per public vetting event, each a
compact JWS that an outside verifier checks with another JOSE library against nothing
but the served DID document; versions that never change; served from storage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from jwcrypto.jws import InvalidJWSSignature
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from shop.catalog.models import ProductStatus
from shop.extensions import db
from shop.identity import signing
from shop.passports import tracking
from shop.passports.models import Credential, CredentialKind
from shop.provenance.models import Batch, VettingEvent, VettingKind, VettingOutcome
from shop.provenance.services import record_vetting_event
from shop.timeutil import month_start, today
from tests import factories as f
from tests.conftest import client_as
from tests.passports.helpers import (
    did_document,
    fetch_credential,
    header,
    payload,
    schema_errors,
    status_index,
    untp_folder,
    verify,
    with_byte_changed,
)


@pytest.fixture
def made(ctx):
    """A vetted workshop (last visit 30 days ago) and one batch of one of its products."""
    w = f.workshop(slug="riverside", name="Riverside Sewing", region="Phnom Penh")
    f.vet(w)
    p = f.product(w, name="Rice Tote", slug="rice-tote")
    b = f.batch(p.variants[0], code="RS-1", materials="recycled rice sacks; cotton lining")
    db.session.commit()
    return w, p, b


def _conformity_urls(workshop) -> list[str]:
    ids = db.session.scalars(
        select(Credential.public_id)
        .join(VettingEvent, Credential.vetting_event_id == VettingEvent.id)
        .where(VettingEvent.workshop_id == workshop.id)
        .order_by(Credential.id)
    ).all()
    return [f"/credentials/conformity/{public_id}" for public_id in ids]


def _all_credential_urls(workshop, code: str) -> list[str]:
    return [
        f"/p/{code}/passport", f"/p/{code}/passport/1",
        f"/workshops/{workshop.slug}/facility-record",
        f"/workshops/{workshop.slug}/facility-record/1",
        *_conformity_urls(workshop), "/credentials/status/1",
    ]  # fmt: skip


# --- verified by anyone, with another library, from the DID document alone -------------


def test_every_credential_verifies_with_jwcrypto_from_the_did_document_alone(client, made):
    w, _p, _b = made
    document = did_document(client)
    assert document["id"] == "did:web:localhost"  # PUBLIC_BASE_URL http://localhost
    urls = _all_credential_urls(w, "RS-1")
    assert len(urls) >= 6 + 4  # four onboarding steps and a visit: five conformity credentials
    for url in urls:
        token = fetch_credential(client, url)
        assert header(token)["alg"] == "EdDSA" and header(token)["typ"] == "vc+jwt"
        assert header(token)["kid"].startswith("did:web:localhost#")
        credential = verify(token, document)
        issuer = credential["issuer"]
        assert (issuer["id"] if isinstance(issuer, dict) else issuer) == document["id"]
        for part in (1, 2):  # one byte of the payload, then of the signature
            with pytest.raises(InvalidJWSSignature):
                verify(with_byte_changed(token, part), document)
        with pytest.raises(InvalidJWSSignature):  # the last byte too
            verify(with_byte_changed(token, 2, position=-1), document)


def test_every_credential_validates_against_the_untp_schemas(client, made):
    w, _p, _b = made
    kinds = set()
    for url in _all_credential_urls(w, "RS-1")[:-1]:  # the status list is W3C's, not UNTP's
        credential = payload(fetch_credential(client, url))
        assert schema_errors(credential) == [], url
        kinds.add(credential["type"][0])
    assert kinds == {
        "DigitalProductPassport",
        "DigitalFacilityRecord",
        "DigitalConformityCredential",
    }
    # the check has teeth: UNTP's own example passes, a passport without an issuer fails
    example = (untp_folder() / "DigitalProductPassport-instance.json").read_text()
    import json

    assert schema_errors(json.loads(example)) == []
    broken = payload(fetch_credential(client, "/p/RS-1/passport"))
    del broken["issuer"]
    broken["credentialSubject"]["conformityClaim"][0]["conformityTopic"] = "social.fun"
    assert len(schema_errors(broken)) == 2


def test_the_passport_tells_the_batch_at_region_level_with_its_vetting(client, made):
    _w, _p, b = made
    passport = payload(fetch_credential(client, "/p/RS-1/passport"))
    assert passport["type"] == ["DigitalProductPassport", "VerifiableCredential"]
    assert passport["id"] == "http://localhost/p/RS-1/passport/1"
    assert passport["issuer"] == {"type": ["CredentialIssuer"], "id": "did:web:localhost",
                                  "name": "Made Known"}  # fmt: skip
    assert passport["validFrom"].endswith("Z")
    subject = passport["credentialSubject"]
    assert subject["granularityLevel"] == "batch" and subject["id"] == "http://localhost/p/RS-1"
    product = subject["product"]
    assert (product["name"], product["batchNumber"]) == ("Rice Tote", "RS-1")
    assert product["productionMonth"] == "2026-03" and "productionDate" not in product
    assert product["producedAtFacility"] == {
        "id": "http://localhost/workshops/riverside", "name": "Riverside Sewing",
        "registeredId": "riverside",
        "address": {"type": ["Address"], "addressRegion": "Phnom Penh", "addressCountry": "KH"},
    }  # fmt: skip
    assert product["countryOfProduction"] == "KH"
    links = {link["linkURL"] for link in product["furtherInformation"]}
    assert "http://localhost/workshops/riverside/facility-record" in links
    assert [m["name"] for m in subject["materialsProvenance"]] == ["recycled rice sacks", "cotton lining"]  # fmt: skip
    claims = subject["conformityClaim"]
    assert [c["conformityTopic"] for c in claims] == ["social.labour", "social.rights"]
    visit_month = month_start(today() - timedelta(days=30)).strftime("%Y-%m")
    for claim in claims:
        assert claim["conformance"] is True and claim["assessmentMonth"] == visit_month
        evidence = claim["conformityEvidence"]
        assert evidence["linkName"] == f"Follow up visit, {visit_month}"
        # the evidence is the visit's conformity credential, and its hash is the served one's
        served = fetch_credential(client, evidence["linkURL"].removeprefix("http://localhost"))
        import hashlib

        assert evidence["hashDigest"] == hashlib.sha256(served.encode()).hexdigest()
        assert (
            payload(served)["credentialSubject"]["assessment"][0]["assessmentMonth"] == visit_month
        )
    status = passport["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry" and status["statusPurpose"] == "revocation"
    assert status["statusListCredential"] == "http://localhost/credentials/status/1"
    assert status_index(passport) == db.session.scalar(
        select(Credential.id).where(Credential.batch_id == b.id)
    )


def test_a_withheld_country_leaves_out_the_country_and_the_region(client, ctx):
    w = f.workshop(slug="hidden", country_code="MN", country_public=False, region="")
    f.vet(w)
    p = f.product(w)
    f.batch(p.variants[0], code="HID-1")
    db.session.commit()
    passport = payload(fetch_credential(client, "/p/HID-1/passport"))
    product = passport["credentialSubject"]["product"]
    assert "countryOfProduction" not in product and "address" not in product["producedAtFacility"]
    record = payload(fetch_credential(client, "/workshops/hidden/facility-record"))
    facility = record["credentialSubject"]["facility"]
    assert "countryOfOperation" not in facility and "address" not in facility
    assert "MN" not in str(passport) + str(record)


def test_only_passed_onboarding_steps_and_visits_get_a_conformity_credential(client, ctx):
    w = f.workshop()
    f.vet(w)
    for kind, outcome in ((VettingKind.CONCERN_RAISED, VettingOutcome.NEEDS_ACTION),
                          (VettingKind.FOLLOW_UP_VISIT, VettingOutcome.FAILED)):  # fmt: skip
        record_vetting_event(w, kind=kind, occurred_on=today(), author="Staff member",
                             outcome=outcome, notes="Private notes")  # fmt: skip
    db.session.commit()
    issued = db.session.scalars(
        select(Credential.jws).where(Credential.kind == CredentialKind.CONFORMITY)
    ).all()
    names = sorted(payload(t)["credentialSubject"]["assessment"][0]["name"].split(",")[0] for t in issued)  # fmt: skip
    assert names == ["Agreement signed", "Follow up visit", "Initial site visit", "Interview",
                     "Standards check"]  # fmt: skip
    assert not any("Staff member" in t or "Private" in str(payload(t)) for t in issued)


# --- issued in the transaction of the change; versions never change ----------------------


def test_a_changed_batch_gets_a_new_version_and_the_old_one_stays_as_it_was(app, client, made):
    w, p, _b = made
    v1 = client.get("/p/RS-1/passport/1").get_data()
    admin = client_as(app, "admin")
    form = {"name": "Rice Paper Tote", "slug": "rice-tote", "description": "Soft.", "story": "",
            "category_id": "0", "workshop_id": str(w.id), "status": "active", "impact_share": "10"}  # fmt: skip
    assert admin.post(f"/admin/products/{p.id}", data=form).status_code == 302
    assert client.get("/p/RS-1/passport/1").get_data() == v1  # byte for byte
    current = fetch_credential(client, "/p/RS-1/passport")
    assert payload(current)["id"] == "http://localhost/p/RS-1/passport/2"
    assert payload(current)["credentialSubject"]["product"]["name"] == "Rice Paper Tote"
    assert payload(v1.decode())["credentialSubject"]["product"]["name"] == "Rice Tote"
    assert status_index(payload(current)) != status_index(payload(v1.decode()))
    # the same form again, and a stock count: nothing a passport says, so no version 3
    assert admin.post(f"/admin/products/{p.id}", data=form).status_code == 302
    assert admin.post(f"/admin/stock/{p.variants[0].id}/adjust",
                      data={"quantity": "-1", "reason": "damaged"}).status_code == 302  # fmt: skip
    assert client.get("/p/RS-1/passport/3").status_code == 404
    versions = db.session.scalars(select(Credential.version).where(Credential.batch_id == _b.id))
    assert sorted(versions) == [1, 2]


def test_a_new_visit_issues_its_credential_and_new_versions_that_cite_it(client, made):
    w, _p, _b = made
    record_vetting_event(w, kind=VettingKind.FOLLOW_UP_VISIT, occurred_on=today(), author="Staff")
    db.session.commit()
    passport = payload(fetch_credential(client, "/p/RS-1/passport"))
    assert passport["id"].endswith("/passport/2")
    claim = passport["credentialSubject"]["conformityClaim"][0]
    assert claim["assessmentMonth"] == today().strftime("%Y-%m")
    record = payload(fetch_credential(client, f"/workshops/{w.slug}/facility-record"))
    assert record["id"].endswith("/facility-record/2")


def test_the_database_refuses_to_change_or_delete_an_issued_credential(ctx, made):
    row = db.session.scalars(select(Credential).where(Credential.kind == CredentialKind.PASSPORT)).first()  # fmt: skip
    for statement in (
        "UPDATE credentials SET jws = 'x.y.z' WHERE id = :id",
        "UPDATE credentials SET content_hash = 'changed' WHERE id = :id",
        "UPDATE credentials SET version = 9 WHERE id = :id",
        "DELETE FROM credentials WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="never"), db.session.begin_nested():
            db.session.execute(text(statement), {"id": row.id})
    with db.session.begin_nested():  # revocation is the one change allowed
        db.session.execute(text("UPDATE credentials SET revoked = :y WHERE id = :id"),
                           {"y": True, "id": row.id})  # fmt: skip


def test_signing_fails_the_change_so_nothing_is_half_issued(app, made, monkeypatch):
    w, p, _b = made

    def broken(payload, typ):
        raise RuntimeError("the signer is down")

    monkeypatch.setattr(signing, "sign_jws", broken)
    admin = client_as(app, "admin")
    with pytest.raises(RuntimeError, match="signer is down"):  # the 500 page, outside tests
        admin.post("/admin/batches/new", data={
            "code": "RS-2", "workshop": str(w.id), "sku": p.variants[0].sku, "quantity": "5",
            "produced_month": "2026-04", "materials": "", "makers": "",
        })  # fmt: skip
    assert db.session.scalar(select(Batch.id).where(Batch.code == "RS-2")) is None


def test_recording_a_batch_issues_its_passport_at_once(app, client, made):
    w, p, _b = made
    admin = client_as(app, "admin")
    answer = admin.post("/admin/batches/new", data={
        "code": "RS-2", "workshop": str(w.id), "sku": p.variants[0].sku, "quantity": "5",
        "produced_month": "2026-04", "materials": "linen", "makers": "",
    })  # fmt: skip
    assert answer.status_code == 302
    passport = verify(fetch_credential(client, "/p/RS-2/passport"), did_document(client))
    assert passport["credentialSubject"]["product"]["productionMonth"] == "2026-04"


# --- served from storage ----------------------------------------------------------------------


def test_versions_are_cached_briefly_the_current_one_a_minute_the_status_list_not(client, made):
    """A version never changes but may be withdrawn (a withheld country): five minutes.
    A conformity credential names no place: cached for good."""
    w, _p, _b = made
    for url, cache in (
        ("/p/RS-1/passport/1", "public, max-age=300"),
        ("/p/RS-1/passport", "public, max-age=60"),
        (f"/workshops/{w.slug}/facility-record/1", "public, max-age=300"),
        (f"/workshops/{w.slug}/facility-record", "public, max-age=60"),
        (_conformity_urls(w)[0], "public, max-age=31536000, immutable"),
        ("/credentials/status/1", "public, max-age=0, must-revalidate"),
    ):
        answer = client.get(url)
        assert answer.status_code == 200 and answer.mimetype == "application/vc+jwt", url
        assert answer.headers["Cache-Control"] == cache, url
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        again = client.get(url, headers={"If-None-Match": answer.headers["ETag"]})
        assert again.status_code == 304 and again.data == b"", url


def test_unknown_or_unpublished_things_are_404_with_a_clear_word(client, made):
    w, _p, _b = made
    draft = f.product(w, status=ProductStatus.DRAFT)
    f.batch(draft.variants[0], code="DRAFT-1")
    db.session.commit()
    # not even issued while its product is a draft (see test_a_draft_products_batches_...)
    for url, said in (
        ("/p/NOPE/passport", "No passport for batch NOPE"),
        ("/p/DRAFT-1/passport", "No passport for batch DRAFT-1"),  # as its /p/ page: 404
        ("/p/DRAFT-1/passport/1", "Batch DRAFT-1 has no passport version 1"),
        ("/p/RS-1/passport/7", "Batch RS-1 has no passport version 7"),
        ("/p/RS-1/passport/99999999999999", None),
        ("/workshops/nope/facility-record", "No facility record for workshop nope"),
        ("/workshops/riverside/facility-record/5", "has no facility record version 5"),
        ("/credentials/conformity/nope", "No conformity credential at this address"),
    ):
        answer = client.get(url)
        assert answer.status_code == 404, url
        if said:
            assert said in answer.get_data(as_text=True), url
    assert client.get("/p/DRAFT-1").status_code == 404


def test_a_get_never_signs(app, client, made, monkeypatch):
    w, p, _b = made
    calls = []
    original = signing.sign_jws

    def counting(payload, typ):
        calls.append(typ)
        return original(payload, typ)

    monkeypatch.setattr(signing, "sign_jws", counting)
    f.batch(p.variants[0], code="RS-3")
    db.session.commit()
    assert calls  # the counter sees signing (a new batch's passport)
    calls.clear()
    for url in [*_all_credential_urls(w, "RS-1"), "/.well-known/did.json", "/did.json",
                "/p/RS-1", "/workshops/riverside", "/admin/batches"]:  # fmt: skip
        assert client.get(url).status_code in (200, 302), url
    assert calls == []


def test_the_passport_routes_take_a_fixed_number_of_statements(app, client, made, count_queries):
    w, p, _b = made

    def counts() -> list[int]:
        found = []
        for url in ("/p/RS-1/passport", "/p/RS-1/passport/1", f"/workshops/{w.slug}/facility-record",
                    f"/workshops/{w.slug}/facility-record/1", _conformity_urls(w)[0],
                    "/credentials/status/1", "/.well-known/did.json"):  # fmt: skip
            with count_queries() as q:
                assert client.get(url).status_code == 200
            found.append(q.count)
        return found

    small = counts()
    for i in range(4):  # more versions, batches and visits
        p.name = f"Rice Tote {i}"
        f.batch(p.variants[0], code=f"RS-X{i}")
        record_vetting_event(w, kind=VettingKind.FOLLOW_UP_VISIT, occurred_on=today(), author="S")
        db.session.commit()
    assert counts() == small
    assert max(small) <= 2


def test_passport_issue_fills_in_what_is_missing_and_is_safe_to_repeat(app, ctx, monkeypatch):
    with monkeypatch.context() as before_upgrade:  # as on a store before migration 0024
        before_upgrade.setattr(tracking, "has_table", lambda _connection, _name: False)
        w = f.workshop(slug="older")
        f.vet(w)
        p = f.product(w)
        f.batch(p.variants[0], code="OLD-1")
        f.batch(p.variants[0], code="OLD-2")
        db.session.commit()
    assert db.session.scalar(select(db.func.count(Credential.id))) == 0
    runner = app.test_cli_runner()
    first = runner.invoke(args=["passport", "issue"])
    assert first.exit_code == 0, first.output
    assert "Issued 2 passport(s), 1 facility record(s), 5 conformity credential(s)" in first.output
    again = runner.invoke(args=["passport", "issue"])
    assert "Issued 0 passport(s), 0 facility record(s), 0 conformity credential(s); 8 already current" in again.output  # fmt: skip


def test_the_endpoints_have_the_names_the_other_parts_build_links_with(app):
    """The resolver, the partner API and the transparency log link here by these names."""
    from shop.web import site_url

    with app.test_request_context():
        built = [
            site_url("identity.did_document"),
            site_url("passports.passport", code="B-1"),
            site_url("passports.passport_version", code="B-1", version=2),
            site_url("passports.facility_record", slug="w"),
            site_url("passports.facility_record_version", slug="w", version=3),
            site_url("passports.conformity", public_id="abc"),
            site_url("passports.status_list"),
        ]
    assert [url.removeprefix("http://localhost") for url in built] == [
        "/.well-known/did.json", "/p/B-1/passport", "/p/B-1/passport/2",
        "/workshops/w/facility-record", "/workshops/w/facility-record/3",
        "/credentials/conformity/abc", "/credentials/status/1",
    ]  # fmt: skip


def test_a_workshop_import_that_withholds_the_country_issues_versions_without_it(
    app, client, made, tmp_path
):
    """The CSV import is an entry point like the forms: the facility record and every
    passport of the workshop get a new version, in the import's transaction."""
    w, _p, _b = made
    header = "slug,name,kind,country,region,crafts,story,partner_since,address,contact,head_count"
    for place in ("KH,Phnom Penh", "withheld,"):  # private details only; then withheld
        csv = tmp_path / "workshops.csv"
        csv.write_text(f"{header}\nriverside,Riverside Sewing,training_centre,{place},sewing,"
                       f"A story.,2020-01,House 12,+855 00,12\n")  # fmt: skip
        done = app.test_cli_runner().invoke(args=["workshops", "import", str(csv)])
        assert done.exit_code == 0, done.output
    # the first row changed nothing a credential says; withholding the country did
    record = payload(fetch_credential(client, f"/workshops/{w.slug}/facility-record"))
    assert record["id"].endswith("/facility-record/2")
    assert "address" not in record["credentialSubject"]["facility"]
    passport = payload(fetch_credential(client, "/p/RS-1/passport"))
    assert passport["id"].endswith("/passport/2")
    assert "countryOfProduction" not in passport["credentialSubject"]["product"]
    # the version that named the country is no longer served (it is still stored)
    assert client.get("/p/RS-1/passport/1").status_code == 410
