"""Whatever happens to prices and stock (adjustments, holds taken, holds running out,
holds released, changes rolled back), every public page served from the cache is the
page a fresh render would give at that moment."""

from __future__ import annotations

import re
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from shop.catalog.admin_services import change_variant
from shop.catalog.models import StockMovementKind, Variant
from shop.catalog.services import StockError, move_stock
from shop.extensions import db
from shop.orders.checkout import CheckoutError, release_expired
from shop.orders.models import Reservation
from shop.timeutil import utcnow
from tests.conftest import rolled_back
from tests.orders.conftest import new_order, stocked_variant

COLD = "X-Test-Cold"
TOKEN = re.compile(r'name="csrf_token" value="[^"]*"')

step = st.one_of(
    st.tuples(st.just("price"), st.integers(0, 1), st.integers(100, 9000)),
    st.tuples(st.just("adjust"), st.integers(0, 1), st.integers(-4, 4).filter(bool)),
    st.tuples(st.just("hold"), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("lapse"), st.just(0), st.just(0)),
    st.tuples(st.just("sweep"), st.just(0), st.just(0)),
    st.tuples(st.just("rolled back"), st.integers(0, 1), st.integers(100, 9000)),
)


def _apply(kind: str, variant: Variant, amount: int) -> None:
    if kind == "price":
        change_variant(variant, options=variant.options, price=amount)
    elif kind == "adjust":
        try:
            move_stock(variant, amount, StockMovementKind.ADJUSTMENT, reason="count")
        except StockError:
            db.session.rollback()
            return
    elif kind == "hold":
        try:
            new_order([(variant, amount)])
        except CheckoutError:
            db.session.rollback()
            return
    elif kind == "lapse":  # time passes: nothing is written but the clock
        db.session.execute(update(Reservation).values(expires_at=utcnow() - timedelta(seconds=1)))
    elif kind == "sweep":
        release_expired(utcnow())
    elif kind == "rolled back":
        variant.price = amount
        db.session.flush()
        db.session.rollback()
        return
    db.session.commit()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_a_cached_page_is_always_the_page_a_fresh_render_gives(migrated_app, steps):
    migrated_app.config["PAGE_CACHE_COLD_HEADER"] = COLD
    try:
        with rolled_back(migrated_app) as app, app.app_context():
            variants = [stocked_variant(quantity=4, price=p, makers=1) for p in (1500, 2500)]
            db.session.commit()
            ids = [v.id for v in variants]
            slugs = [v.product.slug for v in variants]
            workshop = variants[0].product.workshop.slug
            urls = ["/", "/products", "/products?sort=price_asc", f"/workshops/{workshop}"]
            urls += [f"/products/{slug}" for slug in slugs]
            visitor = app.test_client()
            for kind, which, amount in steps:
                for url in urls:  # warm every page before the change
                    visitor.get(url)
                _apply(kind, db.session.get(Variant, ids[which]), amount)
                for url in urls:
                    cached = TOKEN.sub("", visitor.get(url).get_data(as_text=True))
                    fresh = TOKEN.sub(
                        "", visitor.get(url, headers={COLD: "1"}).get_data(as_text=True)
                    )
                    assert cached == fresh, f"{url} after {kind}"
    finally:
        migrated_app.config["PAGE_CACHE_COLD_HEADER"] = ""
