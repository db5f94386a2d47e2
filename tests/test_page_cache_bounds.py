"""The pages the cache keeps are the catalog's, whatever visitors put in the query string.

An outside test filled the shared Redis (which also holds rate limits and the queue)
through the listing: every distinct query string became a cached page. Here 2000
distinct bogus query strings go to the listing of a store on a real Redis (a prefix of
this test's own, removed afterwards), and the keys stay within what the catalog's own
pages can need, while its real pages are still kept, shared and revalidated."""

from __future__ import annotations

import math
import os
import secrets

import pytest

from shop.catalog.storefront import SORTS, categories_in_use
from shop.extensions import db
from shop.page_cache.pages import page_store
from shop.page_cache.store import DROPS_PAGES, MAX_PAGE_CHARS, PageStore
from tests import factories as f

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BOGUS = 2000


@pytest.fixture
def shared(app):
    """The app's page cache on a real Redis, under a key prefix of this test's own."""
    import redis

    client = redis.Redis.from_url(REDIS, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"needs Redis at {REDIS} ({exc})")
    prefix = f"test-bounds-{secrets.token_hex(6)}:"
    before = app.extensions["page_cache"]
    app.extensions["page_cache"] = PageStore(REDIS, prefix)
    try:
        yield client, prefix
    finally:
        app.extensions["page_cache"] = before
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def _catalog(products: int = 15) -> str:
    """`products` products in two categories; the slug of the first."""
    w = f.workshop()
    f.vet(w)
    made = [f.product(w, category_name="Bags" if i % 3 else "Accessories") for i in range(products)]
    db.session.commit()
    return made[0].slug


def _bogus(i: int) -> str:
    word = secrets.token_hex(4)
    return [
        f"/products?q={word}",
        f"/products?page={99999 + i}",
        f"/products?utm_{word}=1",
        f"/products?sort={word}",
        f"/products?category={word}",
        f"/products?sort=price_asc&page={50 + i}&x={word}",
        f"/products?category=bags&sort={word}&{word}=",
        f"/products?q=tote&page={i}&category=bags",
    ][i % 8]


def test_bogus_query_strings_cannot_fill_the_shared_cache(app, ctx, shared, count_queries):
    redis_client, prefix = shared
    _catalog()
    per_page = app.config["PRODUCTS_PER_PAGE"]
    categories = categories_in_use()
    pages = math.ceil(15 / per_page)
    # Every listing the catalog has: all products or one category, each sort, each page.
    bound = (len(categories) + 1) * len(SORTS) * pages
    visitor = app.test_client()
    first = visitor.get("/products")
    assert first.status_code == 200

    statuses = {visitor.get(_bogus(i)).status_code for i in range(BOGUS)}
    assert statuses <= {200, 404}

    keys = list(redis_client.scan_iter(f"{prefix}*"))
    assert 1 <= len(keys) <= bound, f"{len(keys)} keys for {bound} pages"
    assert len(page_store(app).local_keys()) <= bound
    # The real pages are still kept: the ETag still answers 304, a view is a warm hit,
    # and another host (its own process cache empty) reads the page from Redis.
    again = visitor.get("/products", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    with count_queries() as q:
        assert visitor.get("/products").status_code == 200
    assert q.count == 1, q.statements  # the version only: nothing rendered
    page_store(app).local.clear()
    with count_queries() as q:
        from_redis = visitor.get("/products")
    assert q.count == 1, q.statements
    assert from_redis.get_data() == first.get_data()


def test_one_page_one_key_and_pages_that_are_not_the_catalogs_are_not_kept(app, ctx, shared):
    redis_client, prefix = shared
    _catalog()
    visitor = app.test_client()
    plain = visitor.get("/products")
    # Parameters the listing does not have, an unknown sort, page=1: the same page.
    for url in ("/products?utm_source=mail&sort=nonsense", "/products?page=1&sort=newest"):
        same = visitor.get(url)
        assert same.status_code == 200 and same.headers["ETag"] == plain.headers["ETag"], url
    assert len(list(redis_client.scan_iter(f"{prefix}*"))) == 1

    beyond = visitor.get("/products?page=3")  # 15 products, 12 a page: two pages
    assert beyond.status_code == 404 and "nothing on page 3" in beyond.get_data(as_text=True)
    assert "ETag" not in beyond.headers and beyond.headers["Cache-Control"] == "no-store"
    unknown = visitor.get("/products?category=no-such-thing")
    assert unknown.status_code == 404 and "ETag" not in unknown.headers
    search = visitor.get("/products?q=Product")
    assert search.status_code == 200 and "Product" in search.get_data(as_text=True)
    # A search is answered, and revalidated, but kept nowhere.
    revalidated = visitor.get(
        "/products?q=Product", headers={"If-None-Match": search.headers["ETag"]}
    )
    assert revalidated.status_code == 304
    assert len(list(redis_client.scan_iter(f"{prefix}*"))) == 1
    assert visitor.get("/products?page=2").status_code == 200
    assert len(list(redis_client.scan_iter(f"{prefix}*"))) == 2


def test_a_new_version_replaces_a_page_instead_of_adding_one(app, ctx, shared):
    redis_client, prefix = shared
    slug = _catalog()
    visitor = app.test_client()
    for price in range(1000, 1010):  # ten versions of the storefront
        f.product(f.workshop(), price=price)
        db.session.commit()
        assert visitor.get(f"/products/{slug}").status_code == 200
        assert visitor.get("/products").status_code == 200
    assert len(list(redis_client.scan_iter(f"{prefix}*"))) <= 2


def test_a_page_too_large_to_keep_is_served_and_not_kept():
    store = PageStore()
    store.set("slot", "v1", "x" * (MAX_PAGE_CHARS + 1))
    assert store.get("slot", "v1") is None and not store.local_keys()
    store.set("slot", "v1", "page")
    assert store.get("slot", "v1") == "page" and store.get("slot", "v2") is None


def test_readiness_warns_once_about_a_redis_shared_with_the_queue_or_the_limits(
    migrated_app, caplog
):
    import redis

    from shop import create_app
    from shop.config import config_for_tests

    try:
        memory = redis.Redis.from_url(REDIS, socket_connect_timeout=1).info("memory")
    except redis.RedisError as exc:
        pytest.skip(f"needs Redis at {REDIS} ({exc})")
    # Another database number on the same server is the same memory and the same limit.
    queue = REDIS.rsplit("/", 1)[0] + "/14"
    config = config_for_tests(
        migrated_app.config["SQLALCHEMY_DATABASE_URI"],
        migrated_app.config["MEDIA_ROOT"],
        CACHE_URL=REDIS,
        QUEUE_URL=queue,
        RATELIMIT_STORAGE_URI="memory://",
    )
    client = create_app(config).test_client()
    caplog.set_level("WARNING", logger="shop.page_cache.pages")
    assert client.get("/readyz").status_code == 200  # a warning, never unready
    warned = [r.getMessage() for r in caplog.records if r.name == "shop.page_cache.pages"]
    assert any("same Redis server as QUEUE_URL" in w for w in warned), warned
    assert not any("RATELIMIT_STORAGE_URI" in w for w in warned)
    drops = int(memory.get("maxmemory") or 0) and memory["maxmemory_policy"] in DROPS_PAGES
    assert any("maxmemory" in w for w in warned) == (not drops)
    assert REDIS not in caplog.text and queue not in caplog.text
    caplog.clear()
    assert client.get("/readyz").status_code == 200
    assert not [r for r in caplog.records if r.name == "shop.page_cache.pages"]  # once
