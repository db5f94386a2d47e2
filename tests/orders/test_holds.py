"""Holds at checkout, seen from outside: on hand and held kept apart (issue 9,
defect 3), an expired order releases every hold (defect 9), and nobody can keep
the stock off sale without paying (defect 10)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from shop.catalog.models import Variant
from shop.extensions import db
from shop.orders.models import Order, OrderStatus, Reservation, ReservationStatus
from shop.timeutil import utcnow
from tests.conftest import client_as, sign_in
from tests.orders.conftest import stocked_variant
from tests.orders.test_cart_and_checkout import CHECKOUT, add


def _counts(variant_id) -> tuple[int, int, int]:
    row = db.session.execute(
        select(Variant.on_hand, Variant.reserved, Variant.available).where(Variant.id == variant_id)
    ).one()
    return tuple(row)


def _checkout(client):
    return client.post("/checkout", data=CHECKOUT)


def _run_out(order_ids) -> None:
    """The holds of these orders ran out a minute ago."""
    past = utcnow() - timedelta(minutes=1)
    db.session.execute(
        update(Reservation).where(Reservation.order_id.in_(order_ids)).values(expires_at=past)
    )
    db.session.execute(update(Order).where(Order.id.in_(order_ids)).values(reserved_until=past))
    db.session.commit()


def _product_page(client, variant) -> str:
    return client.get(f"/products/{variant.product.slug}").get_data(as_text=True)


# --- defect 3: on hand and held ---------------------------------------------


def test_the_back_office_counts_the_shelf_and_the_store_shows_what_is_free(app, ctx, client):
    variant = stocked_variant(quantity=5)
    db.session.commit()
    add(client, variant.id, "2")
    assert _checkout(client).status_code == 302  # an order holds 2
    assert _counts(variant.id) == (5, 2, 3)
    assert "Only 3 left" in _product_page(app.test_client(), variant)

    admin = client_as(app, "admin")
    page = admin.get(f"/admin/stock/movements?variant={variant.id}").get_data(as_text=True)
    assert "On the shelf: <strong>5</strong>" in page  # what the admin counts is what it says
    assert "held for unpaid orders: <strong>2</strong>" in page
    csv = admin.get("/admin/stock.csv").get_data(as_text=True)
    assert f"{variant.sku},{variant.product.name},5,2,3," in csv

    # Two found damaged at the count: the shelf has 3, two of them still held.
    admin.post(f"/admin/stock/{variant.id}/adjust", data={"quantity": "-2", "reason": "damaged"})
    assert _counts(variant.id) == (3, 2, 1)
    # The hold runs out: the store shows what is on the shelf, not more.
    order_id = db.session.scalar(select(Order.id))
    _run_out([order_id])
    assert app.test_cli_runner().invoke(args=["orders", "expire"]).exit_code == 0
    assert _counts(variant.id) == (3, 0, 3)
    assert "Only 3 left" in _product_page(app.test_client(), variant)


def test_an_adjustment_cannot_take_the_shelf_below_what_is_held(app, ctx, client):
    variant = stocked_variant(quantity=5)
    db.session.commit()
    add(client, variant.id, "4")
    assert _checkout(client).status_code == 302
    admin = client_as(app, "admin")
    page = admin.post(f"/admin/stock/{variant.id}/adjust", data={"quantity": "-2", "reason": "lost"},
                      follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "Nothing changed" in page and "4 of them are held" in page
    assert _counts(variant.id) == (5, 4, 1)


def test_paying_turns_the_hold_into_a_sale(app, ctx, client):
    variant = stocked_variant(quantity=5)
    db.session.commit()
    add(client, variant.id, "2")
    pay_page = _checkout(client).location
    assert _counts(variant.id) == (5, 2, 3)
    client.post(pay_page, data={"card_number": "4242424242424242"})
    assert _counts(variant.id) == (3, 0, 3)


# --- defect 9: an expired order releases all its holds ----------------------


def test_an_expired_order_found_at_checkout_releases_its_holds_on_every_variant(app, ctx, client):
    first, second = stocked_variant(quantity=2), stocked_variant(quantity=2)
    db.session.commit()
    add(client, first.id, "2")
    add(client, second.id, "2")
    assert _checkout(client).status_code == 302
    stale = db.session.scalar(select(Order.id))
    _run_out([stale])

    other = app.test_client()  # another buyer, whose cart has only the first variant
    with other.session_transaction() as session:
        session["cart"] = {str(first.id): 1}
    assert _checkout(other).status_code == 302
    assert db.session.get(Order, stale).status == OrderStatus.EXPIRED
    assert "Only 1 left" in _product_page(other, first)
    # not left held (and "Sold out") until the cron command runs
    assert "Only 2 left" in _product_page(other, second)
    assert (
        db.session.scalar(
            select(Reservation.status).where(
                Reservation.order_id == stale, Reservation.variant_id == second.id
            )
        )
        == ReservationStatus.RELEASED
    )


# --- defect 10: holding the stock without paying ----------------------------


def test_an_order_holds_at_most_max_units_per_order(app, ctx, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_UNITS_PER_ORDER", 3)
    variant = stocked_variant(quantity=10)
    db.session.commit()
    page = add(client, variant.id, "4").get_data(as_text=True)
    assert "An order can hold at most 3 items while you pay" in page
    add(client, variant.id, "3")
    with client.session_transaction() as session:  # a cart filled before the cap was lowered
        session["cart"] = {str(variant.id): 5}
    refused = _checkout(client)
    assert refused.status_code == 409
    assert "An order can hold at most 3 items" in refused.get_data(as_text=True)
    assert _counts(variant.id) == (10, 0, 10)


def test_a_new_checkout_from_the_same_session_releases_the_unpaid_one(app, ctx, client):
    variant = stocked_variant(quantity=6)
    db.session.commit()
    add(client, variant.id, "3")
    assert _checkout(client).status_code == 302
    first = db.session.scalar(select(Order.id))
    add(client, variant.id, "2")  # the buyer came back and changed the cart
    assert _checkout(client).status_code == 302
    assert db.session.get(Order, first).status == OrderStatus.CANCELLED
    held = db.session.scalars(
        select(Reservation.quantity).where(Reservation.status == ReservationStatus.HELD)
    ).all()
    assert held == [2]
    assert _counts(variant.id) == (6, 2, 4)


def test_checkouts_are_rate_limited_per_session(app, ctx, client, monkeypatch):
    monkeypatch.setitem(app.config, "CHECKOUT_LIMIT_PER_SESSION", "2 per hour")
    variant = stocked_variant(quantity=10)
    db.session.commit()
    for _ in range(2):
        add(client, variant.id, "1")
        assert _checkout(client).status_code == 302
    add(client, variant.id, "1")
    refused = _checkout(client)
    assert refused.status_code == 429
    assert "Too many orders were started from here" in refused.get_data(as_text=True)
    assert _counts(variant.id) == (10, 1, 9)  # the one order still unpaid, nothing more
    # a form sent back with a mistake does not count against anyone
    other = app.test_client()
    add(other, variant.id, "1")
    assert other.post("/checkout", data={**CHECKOUT, "email": "x"}).status_code == 400
    assert _checkout(other).status_code == 302


def test_checkouts_are_rate_limited_per_address(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "CHECKOUT_LIMIT_PER_ADDRESS", "3 per hour")
    variant = stocked_variant(quantity=10)
    db.session.commit()
    for _ in range(3):  # a script that drops its cookie each time
        fresh = app.test_client()
        add(fresh, variant.id, "1")
        assert _checkout(fresh).status_code == 302
    fresh = app.test_client()
    add(fresh, variant.id, "1")
    assert _checkout(fresh).status_code == 429
    assert _counts(variant.id) == (10, 3, 7)


def test_one_account_holds_at_most_max_held_units_across_its_sessions(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_HELD_UNITS_PER_SESSION", 5)
    variant = stocked_variant(quantity=10)
    phone = client_as(app, "customer")
    laptop = app.test_client()
    sign_in(laptop, phone.person)
    add(phone, variant.id, "3")
    assert _checkout(phone).status_code == 302
    add(laptop, variant.id, "3")
    refused = _checkout(laptop)
    assert refused.status_code == 409
    assert "3 items are already held for another unpaid order of yours" in refused.get_data(
        as_text=True
    )
    assert _counts(variant.id) == (10, 3, 7)
