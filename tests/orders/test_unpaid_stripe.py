"""Change details on an order whose Stripe payment started (its pay page was opened),
against localstripe, a stateful Stripe-compatible server run as its own process: the
PaymentIntent is canceled at Stripe first, so it can take no money, and only then is the
order changed; an intent Stripe will not cancel (it was paid) keeps the order as it is."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop.extensions import db
from shop.orders.models import Order, OrderStatus, Payment, PaymentStatus, Reservation
from shop.orders.models import ReservationStatus as Held
from tests.orders.test_stripe_localstripe import _placed_order, localstripe, stripe_store  # noqa: F401


def _stripe(localstripe: str):  # noqa: F811
    import stripe

    return stripe, stripe.StripeClient("sk_test_localstripe", base_addresses={"api": localstripe})


def _state(app, order_id: int):
    with app.app_context():
        return (
            db.session.get(Order, order_id).status,
            db.session.scalars(select(Payment.status).where(Payment.order_id == order_id)).all(),
            set(db.session.scalars(select(Reservation.status).where(Reservation.order_id == order_id))),
        )  # fmt: skip


def test_change_details_cancels_the_payment_intent_first(localstripe, stripe_store):  # noqa: F811
    stripe, client = _stripe(localstripe)
    app, _base = stripe_store
    order_id, token, _variant_id = _placed_order(app)
    buyer = app.test_client()
    assert buyer.get(f"/orders/{token}/pay").status_code == 200  # the intent is created
    with app.app_context():
        reference = db.session.scalars(
            select(Payment.reference).where(Payment.order_id == order_id)
        ).one()

    changed = buyer.post(f"/orders/{token}/change")
    assert changed.status_code == 302 and changed.location.endswith("/checkout")
    assert client.v1.payment_intents.retrieve(reference).status == "canceled"
    assert _state(app, order_id) == (OrderStatus.CANCELLED, [PaymentStatus.FAILED], {Held.RELEASED})
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    with pytest.raises(stripe.StripeError):  # a pay page left open can take no money
        client.v1.payment_intents.confirm(reference, params={"payment_method": method.id})
    page = buyer.get("/checkout").get_data(as_text=True)
    assert "its items are back in your cart" in page and 'value="buyer@example.com"' in page


def test_an_intent_stripe_will_not_cancel_keeps_the_order(localstripe, stripe_store):  # noqa: F811
    """Paid at Stripe, its webhook not in yet: the order may not be changed (its money is
    on its way), so it keeps its hold, and the buyer is told why."""
    _stripe_module, client = _stripe(localstripe)
    app, _base = stripe_store
    order_id, token, _variant_id = _placed_order(app)
    with app.app_context():
        total = db.session.get(Order, order_id).total
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    paid = client.v1.payment_intents.create(  # no order_id: its webhook matches no order
        params={"amount": total, "currency": "usd", "payment_method": method.id}
    )
    assert client.v1.payment_intents.confirm(paid.id).status == "succeeded"
    with app.app_context():
        db.session.add(
            Payment(order_id=order_id, gateway="stripe", reference=paid.id, amount=total,
                    currency="USD")
        )  # fmt: skip
        db.session.commit()

    buyer = app.test_client()
    refused = buyer.post(f"/orders/{token}/change")
    assert refused.status_code == 302 and refused.location.endswith(f"/orders/{token}/pay")
    assert _state(app, order_id) == (
        OrderStatus.PENDING_PAYMENT,
        [PaymentStatus.PENDING],
        {Held.HELD},
    )
    page = buyer.get("/cart").get_data(as_text=True)
    assert "is already under way, so the order can&#39;t be changed now" in page
    assert "buyer@example.com" not in buyer.get("/checkout").get_data(as_text=True)
