"""Attack 2, finding 9: an order placed before one of its workshops was suspended cannot
be paid any more. Starting its payment (the dummy gateway's page, Stripe's pay page)
cancels it instead, gives back the units it held (of every line), and tells the buyer;
a payment that succeeds anyway (Stripe's webhook, from a page opened before) sells
nothing, credits no maker, and flags the order for review."""

from __future__ import annotations

from sqlalchemy import func, select

from shop.catalog.models import Variant
from shop.extensions import db
from shop.orders.models import Order, OrderStatus, Payment, Reservation, ReservationStatus
from shop.provenance.models import WorkshopStatus
from shop.training.models import Transfer
from tests.confirming import confirmed
from tests.orders.conftest import (
    intent,
    new_order,
    outcome_of,
    stocked_variant,
    stripe_event,
)
from tests.orders.test_payments import post_event


def _order_with_one_workshop_suspended(gateway_name="dummy"):
    kept, suspended = stocked_variant(quantity=5), stocked_variant(quantity=5)
    order = new_order([(kept, 2), (suspended, 1)], gateway_name=gateway_name)
    suspended.product.workshop.status = WorkshopStatus.SUSPENDED
    db.session.commit()
    return order, kept.id, suspended.id


def _available(variant_id: int) -> int:
    return db.session.get(Variant, variant_id).available


def _still_held() -> int:
    return db.session.scalar(
        select(func.count(Reservation.id)).where(Reservation.status == ReservationStatus.HELD)
    )


def _assert_cancelled_and_released(order_id, kept_id, suspended_id):
    db.session.expire_all()
    assert db.session.get(Order, order_id).status == OrderStatus.CANCELLED
    assert (_available(kept_id), _available(suspended_id)) == (5, 5)
    assert _still_held() == 0
    assert db.session.scalar(select(func.count(Transfer.id))) == 0  # no maker credited


def test_the_dummy_pay_page_cancels_an_order_whose_workshop_was_suspended(app, ctx):
    order, kept_id, suspended_id = _order_with_one_workshop_suspended()
    assert (_available(kept_id), _available(suspended_id)) == (3, 4)
    client = app.test_client()
    paying = client.post(f"/orders/{order.token}/pay", data={"card_number": "4242424242424242"})
    assert paying.status_code == 302 and paying.location.endswith(f"/orders/{order.token}")
    page = client.get(paying.location).get_data(as_text=True)
    assert "can no longer be bought" in page and "Nothing was charged" in page
    _assert_cancelled_and_released(order.id, kept_id, suspended_id)
    assert db.session.scalar(select(func.count(Payment.id))) == 0  # no payment started


def test_opening_the_pay_page_cancels_it_too(app, ctx):
    order, kept_id, suspended_id = _order_with_one_workshop_suspended()
    response = app.test_client().get(f"/orders/{order.token}/pay", follow_redirects=True)
    assert response.status_code == 200
    assert "can no longer be bought" in response.get_data(as_text=True)
    _assert_cancelled_and_released(order.id, kept_id, suspended_id)


def test_stripes_pay_page_cancels_it_without_calling_stripe(stripe_app):
    with stripe_app.app_context():
        order, kept_id, suspended_id = _order_with_one_workshop_suspended("stripe")
        # Stripe's API is a closed port here: calling it would answer 503
        response = stripe_app.test_client().get(f"/orders/{order.token}/pay")
        assert response.status_code == 302
        _assert_cancelled_and_released(order.id, kept_id, suspended_id)


def test_a_payment_that_succeeds_anyway_is_flagged_and_sells_nothing(stripe_app):
    client = stripe_app.test_client()
    with stripe_app.app_context():
        order, kept_id, suspended_id = _order_with_one_workshop_suspended("stripe")
        db.session.add(Payment(order_id=order.id, gateway="stripe", reference="pi_susp",
                               amount=order.total, currency="USD"))  # fmt: skip
        db.session.commit()
        paid = stripe_event("evt_susp", "payment_intent.succeeded", intent("pi_susp", order.total))
        assert outcome_of(post_event(client, paid)).startswith("flagged")
        _assert_cancelled_and_released(order.id, kept_id, suspended_id)
        found = db.session.get(Order, order.id)
        assert "suspended" in found.review_reason and "pi_susp" in found.review_reason


def test_staff_refund_a_payment_that_arrived_after_the_order_was_cancelled(app, ctx):
    """Attack 3, finding D: money taken for an order already cancelled (its pay page was
    open) is refunded from /admin/orders/<id> through the one refund service: the whole
    payment, on no line (no maker was credited, none is debited), the buyer emailed."""
    from shop.orders.payments import payment_succeeded
    from tests.conftest import client_as
    from tests.orders.test_payments import outbox

    variant = stocked_variant(quantity=5, price=2400)
    order = new_order([(variant, 2)])
    db.session.add(Payment(order_id=order.id, gateway="dummy", reference="dummy_pi_late",
                           amount=order.total, currency="USD"))  # fmt: skip
    db.session.commit()
    admin = client_as(app, "admin")
    assert confirmed(admin, f"/admin/orders/{order.id}/cancel").status_code == 302
    order = db.session.get(Order, order.id)
    outcome = payment_succeeded(order, gateway_name="dummy", reference="dummy_pi_late",
                                amount=order.total, currency="USD")  # fmt: skip
    db.session.commit()
    assert outcome.startswith("flagged")
    transfers = db.session.scalar(select(func.count()).select_from(Transfer))

    page = admin.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "Review the refund of the payment" in page
    key = page.split('name="request_key" type="hidden" value="')[1].split('"')[0]
    mails = len(outbox(app))
    answer = confirmed(
        admin,
        f"/admin/orders/{order.id}/refund/confirm",
        data={"everything": "y", "request_key": key, "reason": "paid late"},
    )
    assert answer.status_code == 302
    db.session.expire_all()
    found = db.session.get(Order, order.id)
    assert found.status == OrderStatus.CANCELLED
    assert found.refunded_amount == found.total
    assert [(r.amount, r.lines) for r in found.refunds] == [(found.total, [])]
    assert db.session.scalar(select(func.count()).select_from(Transfer)) == transfers
    new_mail = outbox(app)[mails:]
    assert len(new_mail) == 1 and "Refund of" in new_mail[0]
    assert "Refund the payment" not in admin.get(f"/admin/orders/{order.id}").get_data(True)
