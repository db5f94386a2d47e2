"""What the partner API answers: the records partners read, only what is on sale, a
workshop's public face only, and errors as JSON."""

from __future__ import annotations

from sqlalchemy import select

from shop.extensions import db
from shop.provenance.models import VettingKind
from shop.provenance.services import record_vetting_event
from shop.timeutil import today
from tests import factories as f
from tests.api.helpers import catalog, draft_and_archived, get_json, walk


def test_a_product_says_its_variants_prices_availability_and_share_for_training(client, ctx):
    w = f.workshop(slug="loom-house", name="Loom House")
    f.vet(w)
    p = f.product(w, slug="silk-scarf", name="Silk Scarf", variants=2, price=2450,
                  impact_share_bps=1250, description="Hand-woven.")  # fmt: skip
    f.batch(p.variants[0], quantity=4)  # the second variant has none: out of stock
    db.session.commit()

    product = get_json(client, "/api/v1/products/silk-scarf")

    assert product == {
        "slug": "silk-scarf",
        "name": "Silk Scarf",
        "description": "Hand-woven.",
        "category": {"slug": "bags", "name": "Bags"},
        "workshop": {"slug": "loom-house", "name": "Loom House"},
        "impact_share_bps": 1250,
        "available": True,
        "variants": [
            {
                "sku": p.variants[0].sku,
                "options": {"size": "S0"},
                "price": {"amount": 2450, "currency": "USD", "decimal": "24.50"},
                # 12.5 % of 24.50 is 3.0625: rounded down to the cent
                "training_share": {"amount": 306, "currency": "USD", "decimal": "3.06"},
                "availability": "in_stock",
            },
            {
                "sku": p.variants[1].sku,
                "options": {"size": "S1"},
                "price": {"amount": 2451, "currency": "USD", "decimal": "24.51"},
                "training_share": {"amount": 306, "currency": "USD", "decimal": "3.06"},
                "availability": "out_of_stock",
            },
        ],
        "url": "http://localhost/products/silk-scarf",
    }
    listed = get_json(client, "/api/v1/products")["items"]
    assert listed == [product]  # the listing gives the same record


def test_no_stock_count_ever_leaves_the_store(client, ctx):
    p = f.product(f.workshop(), slug="counted-bag")
    f.batch(p.variants[0], quantity=3)
    db.session.commit()
    body = client.get("/api/v1/products/counted-bag").get_data(as_text=True)
    assert '"in_stock"' in body
    assert not any(word in body for word in ('stock":', "on_hand", "reserved", "quantity"))


def test_a_suspended_workshops_products_are_listed_but_cannot_be_bought(client, ctx):
    w = f.workshop()
    f.vet(w)
    p = f.product(w, slug="paused-bag")
    f.batch(p.variants[0], quantity=5)
    record_vetting_event(w, kind=VettingKind.SUSPENDED, occurred_on=today(), author="Staff")
    db.session.commit()

    product = get_json(client, "/api/v1/products/paused-bag")

    assert product["available"] is False
    assert [v["availability"] for v in product["variants"]] == ["out_of_stock"]
    workshop = get_json(client, f"/api/v1/workshops/{w.slug}")["vetting"]
    assert workshop["suspended"] is True and workshop["vetted"] is False


def test_drafts_and_archived_products_are_never_listed_nor_found(client, ctx):
    made = draft_and_archived()
    products, _ = walk(client, "/api/v1/products?limit=1")
    slugs = {p["slug"] for p in products}
    assert made["draft"] not in slugs and made["archived"] not in slugs
    for slug in (made["draft"], made["archived"]):
        error = get_json(client, f"/api/v1/products/{slug}", 404)
        assert error == {"error": {"status": 404, "message": f"No product '{slug}' is on sale."}}
    # A draft's batch has no public record (as /p/<code>); an archived product's keeps it.
    codes = {b["code"] for b in walk(client, "/api/v1/batches?limit=1")[0]}
    assert made["draft_batch"] not in codes and made["archived_batch"] in codes
    get_json(client, f"/api/v1/batches/{made['draft_batch']}", 404)
    get_json(client, f"/api/v1/batches/{made['draft_batch']}/verify", 404)
    for surface in ("/api/v1/workshops", f"/api/v1/workshops/{made['workshop']}",
                    "/api/v1/batches", f"/api/v1/batches/{made['archived_batch']}"):  # fmt: skip
        assert made["draft"] not in client.get(surface).get_data(as_text=True), surface


def test_a_batch_names_its_products_slug_only_while_the_product_is_found(client, ctx):
    """An archived product's tags still lead to their record, but /products/<slug> no
    longer finds it: its batches give its name, and no slug that leads to a 404."""
    made = draft_and_archived()
    catalog_made = catalog(1)
    archived = get_json(client, f"/api/v1/batches/{made['archived_batch']}")["product"]
    assert archived == {"slug": None, "name": archived["name"]} and archived["name"]
    batches, _ = walk(client, "/api/v1/batches?limit=1")
    assert {b["code"] for b in batches} >= {made["archived_batch"], *catalog_made["batches"]}
    for batch in batches:
        slug = batch["product"]["slug"]
        if slug is not None:
            assert client.get(f"/api/v1/products/{slug}").status_code == 200, batch["code"]
        else:
            assert batch["code"] == made["archived_batch"]


def test_a_workshop_shows_its_public_face_and_vetting_summary(client, ctx):
    w = f.workshop(slug="river-school", name="River School", country_code="KH",
                   region="Phnom Penh", crafts=["sewing", "weaving"])  # fmt: skip
    f.vet(w, last_visit_days_ago=0)
    db.session.commit()

    workshop = get_json(client, "/api/v1/workshops/river-school")

    assert workshop == {
        "slug": "river-school",
        "name": "River School",
        "kind": "training_centre",
        "country": {"code": "KH", "name": "Cambodia"},
        "region": "Phnom Penh",
        "location_withheld": False,
        "crafts": ["sewing", "weaving"],
        "story": "A story.",
        "partner_since": "2020-01",
        "vetting": {
            "vetted": True,
            "suspended": False,
            "steps_done": [
                "interview",
                "initial_site_visit",
                "standards_check",
                "agreement_signed",
            ],
            "last_visit_month": today().strftime("%Y-%m"),
        },
        "url": "http://localhost/workshops/river-school",
    }


def test_a_withheld_country_takes_its_region_with_it(client, ctx):
    f.workshop(slug="quiet-place", country_code="MN", country_public=False, region="Darkhan")
    db.session.commit()
    workshop = get_json(client, "/api/v1/workshops/quiet-place")
    assert workshop["country"] is None and workshop["region"] is None
    assert workshop["location_withheld"] is True
    body = client.get("/api/v1/workshops").get_data(as_text=True)
    assert "MN" not in body and "Mongolia" not in body and "Darkhan" not in body


def test_a_batch_says_what_was_made_where_and_when_and_links_its_passport(client, ctx):
    w = f.workshop(slug="stitch-works", name="Stitch Works")
    p = f.product(w, slug="tote", name="Tote")
    f.batch(p.variants[0], code="SW-2026-03", materials="cotton canvas",
            makers=[(f.trainee(w), 1)])  # fmt: skip
    db.session.commit()

    batch = get_json(client, "/api/v1/batches/SW-2026-03")

    assert batch == {
        "code": "SW-2026-03",
        "produced_month": "2026-03",
        "materials": "cotton canvas",
        "product": {"slug": "tote", "name": "Tote"},
        "variant": {"sku": p.variants[0].sku, "options": {"size": "S0"}},
        "workshop": {"slug": "stitch-works", "name": "Stitch Works"},
        "links": {
            "page": "http://localhost/p/SW-2026-03",
            "passport": "http://localhost/p/SW-2026-03/passport",
            "linkset": "http://localhost/p/SW-2026-03?linkType=linkset",
            "verify": "http://localhost/api/v1/batches/SW-2026-03/verify",
        },
    }
    assert client.get("/p/SW-2026-03").status_code == 200  # the page link leads somewhere


def test_the_check_of_a_batch_says_whether_its_workshop_is_vetted_and_its_passport(client, ctx):
    vetted, unvetted = f.workshop(slug="vetted-one"), f.workshop(slug="new-one")
    f.vet(vetted)
    f.batch(f.product(vetted).variants[0], code="OK-1")
    f.batch(f.product(unvetted).variants[0], code="NEW-1")
    db.session.commit()  # each batch's passport is signed with the commit (shop.passports)

    check = get_json(client, "/api/v1/batches/OK-1/verify")
    assert check == {
        "batch": "OK-1",
        "workshop": {"slug": "vetted-one", "vetted": True, "suspended": False},
        "made_by_vetted_workshop": True,
        "passport": {"url": "http://localhost/p/OK-1/passport", "status": "valid"},
        "verdict": "ok",
        "reasons": [],
    }
    check = get_json(client, "/api/v1/batches/NEW-1/verify")
    assert check["made_by_vetted_workshop"] is False and check["verdict"] == "not_ok"
    assert [r["code"] for r in check["reasons"]] == ["workshop_not_vetted"]

    record_vetting_event(vetted, kind=VettingKind.SUSPENDED, occurred_on=today(), author="Staff")
    db.session.commit()  # a suspension revokes its batches' passports in the same commit
    check = get_json(client, "/api/v1/batches/OK-1/verify")
    assert check["workshop"] == {"slug": "vetted-one", "vetted": False, "suspended": True}
    assert check["passport"]["status"] == "revoked"
    assert [r["code"] for r in check["reasons"]] == ["workshop_suspended", "passport_revoked"]


def test_a_recalled_batch_says_so_apart_from_a_revoked_passport(client, ctx):
    from shop.passports.recall import recall_batch

    w = f.workshop()
    f.vet(w)
    batch = f.batch(f.product(w).variants[0], code="RECALL-1")
    db.session.commit()
    recall_batch(batch)
    db.session.commit()

    check = get_json(client, "/api/v1/batches/RECALL-1/verify")

    assert check["verdict"] == "not_ok" and check["passport"]["status"] == "revoked"
    assert [r["code"] for r in check["reasons"]] == ["batch_recalled", "passport_revoked"]
    assert "recalled" in check["reasons"][0]["message"]
    # the document lists it with the other reasons, so a partner's client may expect it
    document = get_json(client, "/api/v1/openapi.json")
    reason = document["components"]["schemas"]["Reason"]["properties"]["code"]
    assert "batch_recalled" in reason["enum"] and "passport_revoked" in reason["enum"]


def test_a_passport_whose_signature_does_not_hold_is_not_valid(client, ctx):
    """The check reads the stored passport with the published key its header names: a key
    row changed behind the store's back (another key's public half) makes it invalid."""
    from joserfc.jwk import OKPKey

    from shop.identity.models import SigningKey

    w = f.workshop()
    f.vet(w)
    f.batch(f.product(w).variants[0], code="GOOD-1")
    db.session.commit()
    assert get_json(client, "/api/v1/batches/GOOD-1/verify")["verdict"] == "ok"
    for row in db.session.scalars(select(SigningKey)):
        row.public_jwk = OKPKey.generate_key("Ed25519").as_dict(private=False)
    db.session.commit()
    check = get_json(client, "/api/v1/batches/GOOD-1/verify")
    assert check["passport"]["status"] == "invalid" and check["verdict"] == "not_ok"
    assert [r["code"] for r in check["reasons"]] == ["passport_invalid"]


def test_every_refusal_under_the_api_is_json_never_the_stores_html_page(client, ctx):
    refusals = {
        "/api/v1/nothing-here": 404,
        "/api/v1/products/no-such-product": 404,
        "/api/v1/workshops/no-such-workshop": 404,
        "/api/v1/batches/NO-SUCH": 404,
        "/api/v1/batches/NO-SUCH/verify": 404,
        "/api/v1/products?limit=0": 400,
        "/api/v1/products?cursor=bad": 400,
        "/api/v1/products?cursor=%00": 400,  # a NUL character, refused store-wide
    }
    for url, status in refusals.items():
        error = get_json(client, url, status)
        assert error["error"]["status"] == status and error["error"]["message"], url
    # a path value is echoed cut short, as the resolver does, never at any length
    for path in ("products", "workshops", "batches"):
        message = get_json(client, f"/api/v1/{path}/{'a' * 5000}", 404)["error"]["message"]
        assert f"'{'a' * 40}…'" in message and len(message) < 100, path
    message = get_json(client, f"/api/v1/batches/{'A' * 41}/verify", 404)["error"]["message"]
    assert message == f"No batch '{'A' * 40}…'."
    assert get_json(client, f"/api/v1/batches/{'A' * 40}", 404)["error"]["message"] == (
        f"No batch '{'A' * 40}'."
    )
    nul = get_json(client, "/api/v1/products/a%00b", 400)["error"]["message"]
    assert "NUL character" in nul
    posted = client.post("/api/v1/products", data={"name": "x"})
    assert posted.status_code == 405 and posted.mimetype == "application/json"
    assert posted.get_json()["error"]["message"].startswith("This API only reads")
    assert set(posted.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}
    # the store's own pages keep their HTML error page
    assert client.get("/no-such-page").mimetype == "text/html"
