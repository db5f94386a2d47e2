"""Listing and product pages run a fixed number of statements, however big the
catalog; and (RAISE_ON_LAZY_LOAD in the test config) none of them lazy-loads. With the
page cache warm, a public page costs one statement: the storefront version (a search,
whose results are not kept, costs what it cost cold)."""

import pytest

from shop.database import LazyLoadInRequest
from shop.extensions import db
from tests import factories as f

# Cold: what rendering needs, plus the storefront version read first.
LISTING_BUDGET = 3
PRODUCT_BUDGET = 5
WARM_BUDGET = 1


def _grow_catalog(count: int) -> list:
    products = []
    for i in range(count):
        w = f.workshop()
        f.vet(w)
        p = f.product(w, variants=2, images=2)
        f.batch(p.variants[0], quantity=3)
        f.batch(p.variants[1], quantity=2, makers=[(f.trainee(w), 1)])
        products.append(p)
        if i % 50 == 49:
            db.session.flush()
    db.session.commit()
    return products


def _statements(client, count_queries, url):
    with count_queries() as q:
        response = client.get(url)
    assert response.status_code == 200
    return q.count


def _urls(product) -> dict[str, str]:
    return {
        "listing": "/products",
        "listing-search": "/products?sort=price_asc&q=Product&category=bags",
        "home": "/",
        "product": f"/products/{product.slug}",
        "workshop": f"/workshops/{product.workshop.slug}",
        "workshops": "/workshops",
        "batch": f"/p/{product.variants[0].batches[0].code}",
        "verify": "/verify",
    }


def test_statement_count_does_not_grow_with_the_catalog(client, ctx, count_queries):
    first = _grow_catalog(1)[0]
    urls = _urls(first)
    small = {name: _statements(client, count_queries, url) for name, url in urls.items()}
    _grow_catalog(199)
    large = {name: _statements(client, count_queries, url) for name, url in urls.items()}
    assert small == large, f"statements with 1 product {small}, with 200 {large}"
    assert large["listing"] <= LISTING_BUDGET
    assert large["listing-search"] <= LISTING_BUDGET
    assert large["product"] <= PRODUCT_BUDGET
    warm = {name: _statements(client, count_queries, url) for name, url in urls.items()}
    # A search's results are not kept (anyone can type anything): rendered each time.
    expected = {**dict.fromkeys(urls, WARM_BUDGET), "listing-search": large["listing-search"]}
    assert warm == expected, f"with the page cache warm: {warm}"


def test_a_lazy_load_during_a_request_raises_in_tests(app, ctx):
    from shop.catalog.models import Product

    p = f.product(f.workshop())
    db.session.commit()
    with app.test_request_context("/"):
        fresh = db.session.get(Product, p.id)
        with pytest.raises(LazyLoadInRequest):
            _ = fresh.variants
