"""Refunds asked for at the same moment, against a real, committed database (SQLite, or
PostgreSQL when TEST_DATABASE_URL is set): together they never refund more than the
lines they name have left, and never take money from the shipping or a line nobody
named. The gateway takes its time, as Stripe does, so every request is planned while
the others wait on it."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from shop.extensions import db
from shop.orders.gateways import DummyGateway, GatewayError
from shop.orders.models import Order, Refund, RefundClaim
from shop.orders.payments import payment_succeeded
from tests import factories as f
from tests.confirming import confirmation_form, confirmed
from tests.conftest import sign_in
from tests.orders.conftest import new_order, stocked_variant
from tests.orders.test_payments import outbox

ADMINS = 4


class SlowGateway(DummyGateway):
    """Answers after a while, and remembers what it refunded."""

    def __init__(self, refuse: bool = False):
        self.refunded: list[int] = []
        self.refuse = refuse
        self.lock = threading.Lock()

    def refund(self, **kwargs):
        time.sleep(0.4)
        if self.refuse:
            raise GatewayError("Stripe refused the refund: the card is closed")
        with self.lock:
            self.refunded.append(kwargs["amount"])
        return super().refund(**kwargs)


def _paid_order(app):
    with app.app_context():
        variant = stocked_variant(price=6400)
        order = new_order([(variant, 1)])
        payment_succeeded(
            order, gateway_name="dummy", reference="dummy_pi_race", amount=order.total,
            currency="USD",
        )  # fmt: skip
        admin = f.user("admin")
        db.session.commit()
        assert order.shipping > 0
        return order.id, order.lines[0].id, admin.id, order.shipping


def _admins(app, admin_id):
    class Person:
        id = admin_id

    clients = [app.test_client() for _ in range(ADMINS)]
    for client in clients:
        sign_in(client, Person)
    return clients


def _at_once(clients, order_id, data_for):
    """Each admin opens the refund's confirmation page, then all press its button at once."""
    pressed = []
    for i, client in enumerate(clients):
        page = client.post(f"/admin/orders/{order_id}/refund/confirm", data=data_for(i))
        assert page.status_code == 200, page.get_data(as_text=True)
        pressed.append(confirmation_form(page))
    start = threading.Barrier(len(clients))
    results: list = [None] * len(clients)

    def post(i):
        start.wait()
        try:
            action, fields = pressed[i]
            response = clients[i].post(action, data=fields, follow_redirects=True)
            results[i] = (response.status_code, response.get_data(as_text=True))
        except Exception as exc:  # a crash must show in the results, not vanish in a thread
            results[i] = (599, repr(exc))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_refunds_asked_at_the_same_moment_never_refund_more_than_the_line_has(committed_app):
    """$64 line, $18 asked four times at once: three are refunded, the fourth is refused
    with a message (only $10 is left on the line), and the shipping is untouched."""
    app = committed_app
    order_id, line_id, admin_id, shipping = _paid_order(app)
    gateway = SlowGateway()
    real, app.extensions["payment_gateway"] = app.extensions["payment_gateway"], gateway
    try:
        results = _at_once(
            _admins(app, admin_id),
            order_id,
            lambda i: {"request_key": f"form-{i}", f"line-{line_id}": "18.00"},
        )
    finally:
        app.extensions["payment_gateway"] = real
    assert all(status == 200 for status, _ in results), results
    bodies = [body for _, body in results]
    assert sum("Refunded through the payment gateway" in b for b in bodies) == 3
    (refused,) = [b for b in bodies if "Nothing was refunded" in b]
    assert "at most $10.00 can still be refunded" in refused
    assert sorted(gateway.refunded) == [1800, 1800, 1800]  # the gateway was asked 3 times
    with app.app_context():
        found = db.session.get(Order, order_id)
        assert found.refunded_amount == 3 * 1800
        assert found.lines[0].refunded_amount == 3 * 1800  # all of it on the line named
        assert found.total - found.refunded_amount == shipping + 1000  # shipping untouched
        assert not found.review_reason
        rows = db.session.scalars(select(Refund).where(Refund.order_id == order_id)).all()
        assert sorted(r.amount for r in rows) == [1800, 1800, 1800]
        assert db.session.scalars(select(RefundClaim)).all() == []  # no claim left behind
    assert sum("Refund of $18.00" in mail for mail in outbox(app)) == 3


def test_a_refund_the_gateway_refuses_gives_its_claim_back(committed_app):
    """While refused refunds wait on the gateway, their claims hold the money; once it
    refuses, the money is refundable again, all of it."""
    app = committed_app
    order_id, line_id, admin_id, _shipping = _paid_order(app)
    real, app.extensions["payment_gateway"] = app.extensions["payment_gateway"], SlowGateway(True)
    try:
        results = _at_once(
            _admins(app, admin_id),
            order_id,
            lambda i: {"request_key": f"refused-{i}", f"line-{line_id}": "18.00"},
        )
    finally:
        app.extensions["payment_gateway"] = real
    assert all("Nothing was refunded" in body for _, body in results), results
    with app.app_context():
        assert db.session.scalars(select(RefundClaim)).all() == []
        assert db.session.get(Order, order_id).refunded_amount == 0
    client = _admins(app, admin_id)[0]
    response = confirmed(
        client,
        f"/admin/orders/{order_id}/refund/confirm",
        data={"request_key": "after", f"line-{line_id}": "64.00"},
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Order, order_id).lines[0].refunded_amount == 6400


def _paid_two_line_order():
    first, second = stocked_variant(price=1000), stocked_variant(price=3000)
    order = new_order([(first, 1), (second, 1)])
    payment_succeeded(
        order, gateway_name="dummy", reference="dummy_pi_claims", amount=order.total,
        currency="USD",
    )  # fmt: skip
    db.session.commit()
    return order, order.lines[0], order.lines[1]


def test_a_claim_left_by_a_request_that_died_is_released_after_its_lifetime(app, ctx):
    """The request died between its claim and its booking: its claim holds the money
    for CLAIM_LIFETIME (15 minutes), then counts as released."""
    from datetime import timedelta

    from shop.orders.refund_plans import CLAIM_LIFETIME, claim
    from shop.orders.refunds import RefundError, refund_order
    from shop.timeutil import utcnow

    order, line, _other = _paid_two_line_order()
    claim(order.id, "died-just-now", ({line.id: line.line_total}, 0))
    db.session.commit()
    try:
        refund_order(order.id, DummyGateway(), line_amounts={line.id: 100}, idempotency_key="a")
        raise AssertionError("a fresh claim did not hold its money")
    except RefundError as exc:
        assert "being refunded right now" in str(exc)
    db.session.rollback()
    stale = db.session.scalars(select(RefundClaim)).one()
    stale.created_at = utcnow() - CLAIM_LIFETIME - timedelta(seconds=1)
    db.session.commit()
    refund_order(order.id, DummyGateway(), line_amounts={line.id: 100}, idempotency_key="b")
    db.session.commit()
    assert db.session.get(Order, order.id).lines[0].refunded_amount == 100
    assert db.session.scalars(select(RefundClaim)).all() == []  # cleared on the next claim


def test_a_store_refund_is_never_spread_onto_parts_it_did_not_name(app, ctx):
    """The gateway refunded more than the plan (or the plan no longer fits): what the
    named line can take is booked there, the rest is not booked anywhere else, and the
    order is flagged for review."""

    class GenerousGateway(DummyGateway):
        def refund(self, **kwargs):
            return super().refund(**{**kwargs, "amount": kwargs["amount"] + 500})

    order, line, _other = _paid_two_line_order()
    from shop.orders.refunds import refund_order

    refund_order(order.id, GenerousGateway(), line_amounts={line.id: 800}, idempotency_key="g")
    db.session.commit()
    found = db.session.get(Order, order.id)
    assert (found.lines[0].refunded_amount, found.lines[1].refunded_amount) == (800, 0)
    assert found.refunded_amount == 800  # nothing on the shipping either
    assert "not what the store planned" in found.review_reason and "$5.00" in found.review_reason
