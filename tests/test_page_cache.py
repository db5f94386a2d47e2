"""Public pages are cached and answer conditional requests, and stay true: every change
to what they show, committed through the store's own forms, shows on the next view, a
change rolled back never does, and nothing personal is kept or shared."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shop.catalog.models import Variant
from shop.extensions import db
from shop.identity.keys import NoSigningKey
from shop.orders.models import Reservation
from shop.page_cache import version
from shop.page_cache.pages import page_store
from shop.timeutil import today, utcnow
from tests import factories as f
from tests.conftest import client_as

CHECKOUT = {
    "email": "buyer@example.com", "name": "Ana Buyer", "address_line1": "1 Road",
    "city": "Lyon", "postal_code": "69001", "country": "FR", "shipping_method": "standard",
}  # fmt: skip


def _shop(stock: int = 10, price: int = 2400):
    w = f.workshop(name="Loom House")
    f.vet(w)
    product = f.product(w, price=price)
    maker = f.trainee(w)
    batch = f.batch(product.variants[0], quantity=stock, makers=[(maker, 1)])
    db.session.commit()
    return product, batch


def _pages(product, batch) -> list[str]:
    return [
        "/",
        "/products",
        "/products?sort=price_asc&q=Product&category=bags&page=1",
        f"/products/{product.slug}",
        "/workshops",
        f"/workshops/{product.workshop.slug}",
        f"/p/{batch.code}",
        "/impact",
    ]


def _availability(client, slug: str) -> str:
    page = client.get(f"/products/{slug}").get_data(as_text=True)
    return re.search(r'<span class="stock-status[^"]*">([^<]*)</span>', page).group(1)


def test_public_pages_send_an_etag_and_answer_a_match_with_304_without_rendering(
    client, ctx, count_queries
):
    product, batch = _shop()
    for url in _pages(product, batch):
        first = client.get(url)
        assert first.status_code == 200, url
        assert first.headers["ETag"], url
        assert first.headers["Cache-Control"] == "private, no-cache", url
        assert "Cookie" in first.headers["Vary"], url
        with count_queries() as q:
            again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b"", url
        assert again.headers["ETag"] == first.headers["ETag"], url
        assert q.count == 1, f"{url}: {q.statements}"  # the version, and nothing rendered
        weak = client.get(url, headers={"If-None-Match": f"W/{first.headers['ETag']}"})
        assert weak.status_code == 304, url  # a proxy that compressed it made it weak


def test_one_cached_page_serves_every_visitor_with_their_own_header_and_form_token(
    csrf_app,
):
    with csrf_app.app_context():
        product, _ = _shop()
        slug, variant_id = product.slug, str(product.variants[0].id)
    buyer, other = csrf_app.test_client(), csrf_app.test_client()

    def token(page: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    page = buyer.get(f"/products/{slug}").get_data(as_text=True)
    before = buyer.get(f"/products/{slug}").headers["ETag"]
    added = buyer.post(
        "/cart/add", data={"variant_id": variant_id, "quantity": "2", "csrf_token": token(page)}
    )
    assert added.status_code == 302  # the token the cached page carried was this visitor's
    mine = buyer.get(f"/products/{slug}", headers={"If-None-Match": before})
    assert mine.status_code == 200  # the cart count in the header changed
    assert "Cart (2)" in mine.get_data(as_text=True)
    theirs = other.get(f"/products/{slug}").get_data(as_text=True)
    assert "Cart (2)" not in theirs and ">Cart</a>" in theirs
    assert token(theirs) != token(mine.get_data(as_text=True))
    again = other.post(
        "/cart/add", data={"variant_id": variant_id, "quantity": "1", "csrf_token": token(theirs)}
    )
    assert again.status_code == 302
    flashed = other.get(f"/products/{slug}").get_data(as_text=True)
    assert "flash" in flashed and "Cart (1)" in flashed
    assert "flash" not in buyer.get(f"/products/{slug}").get_data(as_text=True)


def _reprice(app, admin, product):
    variant = product.variants[0]
    admin.post(f"/admin/variants/{variant.id}/price", data={"options": "size=S0", "price": "31.50"})
    return "$31.50"


def _adjust(app, admin, product):
    variant = product.variants[0]
    admin.post(f"/admin/stock/{variant.id}/adjust", data={"quantity": "-7", "reason": "Stocktake"})
    return "Only 3 left"


def _sell(app, admin, product):
    buyer = app.test_client()
    buyer.post("/cart/add", data={"variant_id": product.variants[0].id, "quantity": "6"})
    placed = buyer.post("/checkout", data=CHECKOUT)
    buyer.post(placed.headers["Location"], data={"card_number": "4242 4242 4242 4242"})
    return "Only 4 left"


def _record_batch(app, admin, product):
    variant = product.variants[0]
    admin.post("/admin/batches/new", data={
        "code": "B-NEXT", "workshop": product.workshop_id, "sku": variant.sku, "quantity": "5",
        "produced_month": "2026-04", "materials": "jute", "makers": ""})  # fmt: skip
    return "In stock"


def _suspend(app, admin, product):
    admin.post(f"/staff/workshops/{product.workshop_id}/vetting", data={
        "kind": "suspended", "occurred_on": today().isoformat(), "outcome": "failed",
        "notes": ""})  # fmt: skip
    return "can't be bought at the moment"


@pytest.mark.parametrize("change", [_reprice, _adjust, _sell, _record_batch, _suspend])
def test_every_change_shows_on_the_next_view_and_changes_the_etag(app, ctx, change):
    product, _ = _shop(stock=10)
    admin = client_as(app, "admin", "staff")
    visitor = app.test_client()
    slug = product.slug
    pages = ["/", "/products", f"/products/{slug}", f"/workshops/{product.workshop.slug}"]
    etags = {url: visitor.get(url).headers["ETag"] for url in pages}
    assert _availability(visitor, slug) == "In stock"
    shown = change(app, admin, product)
    after = visitor.get(f"/products/{slug}", headers={"If-None-Match": etags[pages[2]]})
    assert after.status_code == 200 and shown in after.get_data(as_text=True)
    for url in pages:
        assert visitor.get(url, headers={"If-None-Match": etags[url]}).status_code == 200, url
    if change is _record_batch:
        assert "B-NEXT" in after.get_data(as_text=True) or "Current batches" in after.get_data(
            as_text=True
        )


def test_a_change_rolled_back_is_never_shown_nor_invalidates(app, ctx, monkeypatch):
    product, _ = _shop(stock=10)
    admin = client_as(app, "admin")
    visitor = app.test_client()
    url = f"/products/{product.slug}"
    etag = visitor.get(url).headers["ETag"]
    token_before = version.current()

    def fail(*_args, **_kwargs):
        raise RuntimeError("the audit log is down")

    monkeypatch.setattr("shop.admin.catalog_views.flash", fail)  # after the price changed
    app.config["PROPAGATE_TEST_ERRORS"] = False
    try:
        variant_id = product.variants[0].id
        response = admin.post(
            f"/admin/variants/{variant_id}/price", data={"options": "size=S0", "price": "99.00"}
        )
    finally:
        app.config["PROPAGATE_TEST_ERRORS"] = True
    assert response.status_code == 500
    db.session.rollback()
    assert version.current() == token_before
    assert visitor.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert "$99.00" not in visitor.get(url).get_data(as_text=True)


def test_a_page_rendered_from_uncommitted_changes_is_not_kept(app, ctx):
    product, _ = _shop(stock=10)
    url, variant_id = f"/products/{product.slug}", product.variants[0].id
    visitor = app.test_client()
    with app.test_request_context(url):
        variant = db.session.get(Variant, variant_id)
        variant.price = 9900
        db.session.flush()
        own = app.view_functions["catalog.product"](product.slug)
        assert "$99.00" in own.get_data(as_text=True)  # its own unit sees its change
        assert "ETag" not in own.headers
        db.session.rollback()
    assert "$99.00" not in visitor.get(url).get_data(as_text=True)
    kept = [page_store(app).local_page(key) for key in page_store(app).local_keys()]
    assert not any("$99.00" in (html or "") for html in kept)


def test_units_of_a_hold_that_ran_out_show_as_buyable_on_the_next_view(app, ctx):
    product, _ = _shop(stock=3)
    visitor, buyer = app.test_client(), app.test_client()
    url = f"/products/{product.slug}"
    buyer.post("/cart/add", data={"variant_id": product.variants[0].id, "quantity": "3"})
    assert buyer.post("/checkout", data=CHECKOUT).status_code == 302
    sold_out = visitor.get(url)
    assert _availability(visitor, product.slug) == "Sold out"
    # Time passes: the hold runs out, and nothing is written.
    db.session.execute(update(Reservation).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert visitor.get(url, headers={"If-None-Match": sold_out.headers["ETag"]}).status_code == 200
    assert _availability(visitor, product.slug) == "Only 3 left"


def test_private_pages_are_never_cached(app, ctx):
    product, _ = _shop()
    person = client_as(app, "admin", "staff", "customer")
    person.post("/cart/add", data={"variant_id": product.variants[0].id, "quantity": "1"})
    page_store(app).clear()
    for url in ("/cart", "/checkout", "/account", "/admin/", "/admin/products", "/staff/trainees"):
        response = person.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
        assert "ETag" not in response.headers, url
        assert person.get(url, headers={"If-None-Match": "*"}).status_code == 200, url
    assert not page_store(app).local_keys()
    public = person.get(f"/products/{product.slug}").get_data(as_text=True)
    assert "Admin</a>" in public and "Cart (1)" in public
    (key,) = page_store(app).local_keys()
    kept = page_store(app).local_page(key)
    assert "Admin</a>" not in kept and "Cart (1)" not in kept and "Sign out" not in kept
    assert person.person.email not in kept


def test_the_token_changes_only_with_what_public_pages_show(app, ctx):
    product, _ = _shop()
    before = version.current()
    f.user("customer")  # an account is nobody's page
    db.session.commit()
    assert version.current() == before
    db.session.execute(select(Variant.id))
    db.session.get(Variant, product.variants[0].id).price = 2500
    db.session.commit()
    assert version.current() != before


@pytest.fixture
def two_hosts(tmp_path):
    """Two app instances (two hosts) on one database and one Redis, each with its own
    in-process cache; Redis keys under a prefix of this test's own, removed afterwards."""
    import secrets

    import redis
    from flask_migrate import upgrade

    from shop import create_app
    from shop.config import config_for_tests
    from tests.conftest import empty_database

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"needs Redis on 127.0.0.1:6379 ({exc})")
    prefix = f"test-{secrets.token_hex(6)}:"
    with empty_database(tmp_path, "hosts.db") as database:
        apps = [
            create_app(
                config_for_tests(
                    database, str(tmp_path / f"media{i}"), CACHE_URL=url, CACHE_KEY_PREFIX=prefix
                )
            )
            for i in (1, 2)
        ]
        with apps[0].app_context():
            upgrade()
        try:
            yield apps
        finally:
            for each in apps:
                with each.app_context():
                    db.session.remove()
                    db.engine.dispose()
            shared = redis.Redis.from_url(url)
            for key in shared.scan_iter(f"{prefix}*"):
                shared.delete(key)


def test_a_change_made_on_one_host_shows_on_the_others_next_view(two_hosts):
    from sqlalchemy import event

    one, other = two_hosts
    with one.app_context():
        product, _ = _shop(stock=10)
        slug, variant_id = product.slug, product.variants[0].id
        admin = client_as(one, "admin")
    here, there = one.test_client(), other.test_client()
    first = there.get(f"/products/{slug}")
    assert _availability(there, slug) == "In stock"

    with one.app_context():
        engine = db.engine
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    assert _availability(here, slug) == "In stock"
    event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1  # the version: the page was rendered on the other host

    admin.post(f"/admin/stock/{variant_id}/adjust", data={"quantity": "-7", "reason": "Stocktake"})
    assert (
        there.get(f"/products/{slug}", headers={"If-None-Match": first.headers["ETag"]}).status_code
        == 200
    )
    assert _availability(there, slug) == "Only 3 left"

    buyer = one.test_client()
    buyer.post("/cart/add", data={"variant_id": variant_id, "quantity": "2"})
    placed = buyer.post("/checkout", data=CHECKOUT)
    buyer.post(placed.headers["Location"], data={"card_number": "4242 4242 4242 4242"})
    assert _availability(there, slug) == "Only 1 left"
    assert _availability(here, slug) == "Only 1 left"


def _log_size(page: str) -> int:
    return int(re.search(r'<dd class="log-size">(\d+)</dd>', page).group(1))


def test_impact_shows_the_log_grown_by_a_sale_and_a_checkpoint_signed_later(app, ctx):
    product, _ = _shop(stock=20)
    visitor = app.test_client()
    _sell(app, None, product)
    first = visitor.get("/impact")
    size = _log_size(first.get_data(as_text=True))
    assert size > 0
    _sell(app, None, product)
    grown = visitor.get("/impact", headers={"If-None-Match": first.headers["ETag"]})
    assert grown.status_code == 200 and _log_size(grown.get_data(as_text=True)) > size
    size = _log_size(grown.get_data(as_text=True))

    def no_key(*_args):
        raise NoSigningKey("no signing key (this test took it away)")

    # A sale while no checkpoint could be signed: /impact still shows the last signed one,
    # then the checkpoint signed afterwards (nothing else written) as soon as it is.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("shop.transparency.notes.signed_note", no_key)
        _sell(app, None, product)
    assert _log_size(visitor.get("/impact").get_data(as_text=True)) == size
    assert app.test_cli_runner().invoke(args=["ledger", "checkpoint"]).exit_code == 0
    assert _log_size(visitor.get("/impact").get_data(as_text=True)) > size
