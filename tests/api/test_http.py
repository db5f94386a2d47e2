"""What every answer of the partner API shares: an ETag and 304, caching, CORS for
reading only, and a rate limit per client address."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from shop.catalog.models import Product
from shop.extensions import db
from shop.rate_limits import LimitsUnavailable
from tests import factories as f
from tests.api.helpers import catalog

READS = [
    "/api/v1/products",
    "/api/v1/products/tote",
    "/api/v1/workshops",
    "/api/v1/workshops/stitch-works",
    "/api/v1/batches",
    "/api/v1/batches/SW-1",
    "/api/v1/batches/SW-1/verify",
    "/api/v1/openapi.json",
]


def _one_of_each():
    w = f.workshop(slug="stitch-works")
    f.vet(w)
    f.batch(f.product(w, slug="tote").variants[0], code="SW-1")
    db.session.commit()


def test_every_answer_has_an_etag_of_its_body_and_a_304_when_it_is_unchanged(client, ctx):
    _one_of_each()
    for url in READS:
        first = client.get(url)
        assert first.status_code == 200, url
        etag = first.headers["ETag"]
        assert etag == f'"{hashlib.sha1(first.get_data()).hexdigest()}"', url  # noqa: S324
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.get_data() == b"", url
        assert again.headers["ETag"] == etag
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    # a change to what an answer shows changes its ETag: the old one gets the new body
    etag = client.get("/api/v1/products/tote").headers["ETag"]
    product = ctx.scalars(select(Product).where(Product.slug == "tote")).one()
    product.name = "Renamed tote"
    db.session.commit()
    changed = client.get("/api/v1/products/tote", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["name"] == "Renamed tote"


def test_answers_may_be_cached_a_minute_and_a_check_not_at_all(client, ctx):
    _one_of_each()
    for url in READS:
        expected = (
            "public, max-age=0, must-revalidate"
            if url.endswith("/verify")
            else "public, max-age=60"
        )
        assert client.get(url).headers["Cache-Control"] == expected, url


def test_a_refusal_is_never_kept_by_a_cache(client, ctx):
    """A 404 is cacheable by default: a batch published a moment later must not stay "not
    found" in a shared cache, nor a 400 outlive the mistake that caused it."""
    _one_of_each()
    refusals = {
        "/api/v1/batches/NOT-YET": 404,
        "/api/v1/batches/NOT-YET/verify": 404,
        "/api/v1/products/none": 404,
        "/api/v1/nothing": 404,
        "/api/v1/products?limit=0": 400,
        "/api/v1/batches?cursor=bad": 400,
    }
    for url, status in refusals.items():
        answer = client.get(url)
        assert answer.status_code == status, url
        assert answer.headers["Cache-Control"] == "no-store", url
    assert client.post("/api/v1/products").headers["Cache-Control"] == "no-store"
    # and the document says so of each refusal it describes
    document = client.get("/api/v1/openapi.json").get_json()
    for path, item in document["paths"].items():
        for status in ("400", "404", "429", "503"):
            if status in item["get"]["responses"]:
                headers = item["get"]["responses"][status]["headers"]
                assert headers["Cache-Control"]["schema"]["const"] == "no-store", (path, status)


def test_any_origin_may_read_and_nothing_else_is_opened(client, ctx):
    _one_of_each()
    origin = {"Origin": "https://partner.example"}
    for url in READS:
        answer = client.get(url, headers=origin)
        assert answer.headers["Access-Control-Allow-Origin"] == "*", url
        assert "Access-Control-Allow-Credentials" not in answer.headers
        assert "ETag" in answer.headers["Access-Control-Expose-Headers"]
    assert (
        client.head("/api/v1/products", headers=origin).headers["Access-Control-Allow-Origin"]
        == "*"
    )
    # errors too, so a partner's script can read why
    missing = client.get("/api/v1/products/none", headers=origin)
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == "*"

    preflight = client.options(
        "/api/v1/products",
        headers={**origin, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "If-None-Match"},
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert preflight.headers["Access-Control-Allow-Headers"] == "If-None-Match"

    posted = client.post("/api/v1/products", headers=origin)
    assert posted.status_code == 405 and "Access-Control-Allow-Origin" not in posted.headers
    # the store's own pages stay closed to other origins
    for url in ("/", "/products", "/products/tote", "/workshops", "/p/SW-1"):
        assert "Access-Control-Allow-Origin" not in client.get(url, headers=origin).headers


def test_an_address_over_the_limit_is_told_to_wait_in_json(app, client, ctx, monkeypatch):
    catalog(1)
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "5 per minute")
    urls = ["/api/v1/products", "/api/v1/workshops", "/api/v1/batches", "/api/v1/nothing",
            "/api/v1/openapi.json"]  # fmt: skip
    assert [client.get(url).status_code for url in urls] == [200, 200, 200, 404, 200]

    refused = client.get("/api/v1/products")

    assert refused.status_code == 429 and refused.mimetype == "application/json"
    error = refused.get_json()["error"]
    assert error["status"] == 429 and "at most 5 per minute" in error["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    # another address has its own count; the store's pages are not counted
    other = client.get("/api/v1/products", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert other.status_code == 200
    assert client.get("/products").status_code == 200
    # a preflight is not counted and is still answered
    assert client.options("/api/v1/products").status_code == 200


def test_when_the_counters_cannot_be_reached_the_api_answers_503_in_json(client, ctx, monkeypatch):
    def down(*_args):
        raise LimitsUnavailable(7)

    monkeypatch.setattr("shop.api.http.take", down)
    refused = client.get("/api/v1/products")
    assert refused.status_code == 503 and refused.mimetype == "application/json"
    assert refused.headers["Retry-After"] == "7"
    assert "can't take API requests for a moment" in refused.get_json()["error"]["message"]
