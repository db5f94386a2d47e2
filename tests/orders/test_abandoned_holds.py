"""Holds of abandoned orders let go early (issue 9, defect 10): units whose hold ran out
are shown to buyers as there at once, the next cart change or checkout releases their
order whole, and an order whose buyer never reached payment holds for RESERVATION_MINUTES
only; starting payment extends the hold once, to PAYMENT_MINUTES after placing."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import select

from shop.extensions import db
from shop.orders.holds import release_expired
from shop.orders.models import Order, OrderStatus, Reservation, ReservationStatus
from shop.timeutil import utcnow
from tests.orders.conftest import stocked_variant
from tests.orders.test_cart_and_checkout import CHECKOUT, add
from tests.orders.test_holds import _counts, _product_page, _run_out

DECLINED = {"card_number": "4000 0000 0000 0002"}


def _hold_everything(app):
    """Two products of two units each, all held by one unpaid order."""
    first, second = stocked_variant(quantity=2), stocked_variant(quantity=2)
    db.session.commit()
    buyer = app.test_client()
    add(buyer, first.id, "2")
    add(buyer, second.id, "2")
    pay_page = buyer.post("/checkout", data=CHECKOUT).location
    order_id = db.session.scalar(select(Order.id))
    return first, second, order_id, buyer, pay_page


def _aware(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _hold_ends(order_id):
    order = db.session.get(Order, order_id)
    db.session.refresh(order)
    ends = {_aware(r.expires_at) for r in order.reservations if r.status == ReservationStatus.HELD}
    return _aware(order.reserved_until), ends, _aware(order.created_at)


def test_units_whose_hold_ran_out_are_shown_as_there_and_a_page_writes_nothing(app, ctx):
    first, second, order_id, _buyer, _pay = _hold_everything(app)
    shopper = app.test_client()
    assert "Sold out" in _product_page(shopper, first)
    assert "Sold out" in shopper.get("/products").get_data(as_text=True)

    _run_out([order_id])
    page = _product_page(shopper, first)
    assert "Sold out" not in page and "Only 2 left" in page
    assert "Sold out" not in shopper.get("/products").get_data(as_text=True)
    assert "Sold out" not in shopper.get("/").get_data(as_text=True)
    # Reading the pages released nothing: the order and its holds wait for a write.
    db.session.expire_all()
    assert db.session.get(Order, order_id).status == OrderStatus.PENDING_PAYMENT
    assert _counts(first.id) == (2, 2, 0) and _counts(second.id) == (2, 2, 0)


def test_adding_a_unit_whose_hold_ran_out_releases_that_order_whole(app, ctx):
    first, second, order_id, _buyer, _pay = _hold_everything(app)
    shopper = app.test_client()
    page = add(shopper, first.id, "1").get_data(as_text=True)
    assert "sold out" in page  # the hold still runs: the unit is not there

    _run_out([order_id])
    page = add(shopper, first.id, "1").get_data(as_text=True)
    assert "Added 1" in page
    db.session.expire_all()
    assert db.session.get(Order, order_id).status == OrderStatus.EXPIRED
    assert _counts(first.id) == (2, 0, 2) and _counts(second.id) == (2, 0, 2)  # both variants
    assert set(db.session.scalars(select(Reservation.status))) == {ReservationStatus.RELEASED}


def test_an_order_whose_payment_never_started_lets_go_first(app, ctx):
    _first, _second, order_id, _buyer, _pay = _hold_everything(app)
    reserved_until, ends, placed = _hold_ends(order_id)
    assert reserved_until - placed == timedelta(minutes=15) and ends == {reserved_until}

    other = app.test_client()  # a second buyer, who starts paying
    db.session.expire_all()
    first_units = stocked_variant(quantity=1)
    db.session.commit()
    add(other, first_units.id, "1")
    other_pay = other.post("/checkout", data=CHECKOUT).location
    assert other.post(other_pay, data=DECLINED).status_code == 402  # payment started
    paying = max(db.session.scalars(select(Order.id)))
    reserved_until, ends, placed = _hold_ends(paying)
    assert reserved_until - placed == timedelta(minutes=30) and ends == {reserved_until}
    # Starting again adds nothing: the window is counted from the placing.
    assert other.post(other_pay, data=DECLINED).status_code == 402
    assert _hold_ends(paying)[0] == reserved_until

    assert release_expired(utcnow() + timedelta(minutes=20)) == 2
    db.session.commit()
    assert db.session.get(Order, order_id).status == OrderStatus.EXPIRED  # never paid
    assert db.session.get(Order, paying).status == OrderStatus.PENDING_PAYMENT
    assert release_expired(utcnow() + timedelta(minutes=31)) == 1
    db.session.commit()
    assert db.session.get(Order, paying).status == OrderStatus.EXPIRED


def test_a_hold_that_ran_out_is_not_revived_by_starting_payment(app, ctx):
    _first, _second, order_id, buyer, pay_page = _hold_everything(app)
    _run_out([order_id])
    before = _hold_ends(order_id)[0]
    assert buyer.post(pay_page, data=DECLINED).status_code == 402
    assert _hold_ends(order_id)[0] == before < utcnow()
    assert release_expired(utcnow()) == 2
