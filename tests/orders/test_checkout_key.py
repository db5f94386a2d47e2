"""A session's open orders are kept on the server (attack finding 4): replaying an old
session cookie finds them all the same, and dropping the cookie does not multiply what
one address holds."""

from __future__ import annotations

from sqlalchemy import select

from shop.extensions import db
from shop.orders.models import Order, OrderStatus, Reservation, ReservationStatus
from tests import factories as f
from tests.orders.conftest import stocked_variant
from tests.orders.test_cart_and_checkout import add
from tests.orders.test_holds import _checkout, _counts


def _held() -> list[int]:
    return db.session.scalars(
        select(Reservation.quantity).where(Reservation.status == ReservationStatus.HELD)
    ).all()


def test_replaying_an_old_session_cookie_replaces_its_unpaid_order(app, ctx, client):
    variant = stocked_variant(quantity=20)
    db.session.commit()
    add(client, variant.id, "5")
    saved = client.get_cookie("session").value  # the cookie with the cart, before checkout

    for _ in range(3):
        client.set_cookie("session", saved)
        assert client.get("/checkout").status_code == 200
        assert _checkout(client).status_code == 302

    statuses = db.session.scalars(select(Order.status).order_by(Order.id)).all()
    assert statuses == [OrderStatus.CANCELLED, OrderStatus.CANCELLED, OrderStatus.PENDING_PAYMENT]
    assert _held() == [5]
    assert _counts(variant.id) == (20, 5, 15)


def test_a_session_keeps_its_checkout_key_when_its_buyer_signs_in(app, ctx, client):
    variant = stocked_variant(quantity=20)
    f.user("customer", email="ana@example.org", password="the right password")
    db.session.commit()
    add(client, variant.id, "2")
    assert _checkout(client).status_code == 302  # as a guest
    signed_in = client.post(
        "/login", data={"email": "ana@example.org", "password": "the right password"}
    )
    assert signed_in.status_code == 302
    add(client, variant.id, "3")
    assert _checkout(client).status_code == 302  # signed in: replaces the guest's order
    assert _held() == [3]


def test_dropping_the_cookie_does_not_hold_more_than_the_address_may(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_HELD_UNITS_PER_ADDRESS", 7)
    variant = stocked_variant(quantity=20)
    db.session.commit()
    for _ in range(2):  # a script that drops its cookie each time
        fresh = app.test_client()
        add(fresh, variant.id, "3")
        assert _checkout(fresh).status_code == 302
    fresh = app.test_client()
    add(fresh, variant.id, "3")
    refused = _checkout(fresh)
    assert refused.status_code == 409
    assert "Too many items are held for unpaid orders placed from your network" in (
        refused.get_data(as_text=True)
    )
    assert _counts(variant.id) == (20, 6, 14)

    elsewhere = app.test_client()  # another address is not held to this one's holds
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    add(elsewhere, variant.id, "3")
    assert _checkout(elsewhere).status_code == 302
    # The address is kept only as a keyed digest, never in clear.
    digests = set(db.session.scalars(select(Order.client_digest)))
    assert len(digests) == 2 and not any("127.0.0.1" in d or "198.51" in d for d in digests)


def test_a_new_checkout_keeps_an_order_whose_payment_has_started(app, ctx, client):
    """Attack 3, finding D: the pay page of the first order was used (a payment started,
    here a declined card), then the session checks out again in another tab. The first
    order may still be paid there, so it is not cancelled and keeps its hold."""
    variant = stocked_variant(quantity=20)
    db.session.commit()
    add(client, variant.id, "2")
    assert _checkout(client).status_code == 302
    first = db.session.scalars(select(Order)).one()
    declined = client.post(f"/orders/{first.token}/pay", data={"card_number": "4000000000000002"})
    assert declined.status_code == 402  # a payment was started for it

    add(client, variant.id, "3")
    assert _checkout(client).status_code == 302
    db.session.expire_all()
    statuses = db.session.scalars(select(Order.status).order_by(Order.id)).all()
    assert statuses == [OrderStatus.PENDING_PAYMENT, OrderStatus.PENDING_PAYMENT]
    assert sorted(_held()) == [2, 3]
    assert _counts(variant.id) == (20, 5, 15)
    paid = client.post(f"/orders/{first.token}/pay", data={"card_number": "4242424242424242"})
    assert paid.status_code == 302
    db.session.expire_all()
    assert db.session.get(Order, first.id).status == OrderStatus.PAID
