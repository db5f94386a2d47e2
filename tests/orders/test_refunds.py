"""Refunds made anywhere (back office, command line, the Stripe dashboard) are booked
once; an order is shipped once whatever is refunded; no refund is lost to another.

Webhook payloads are today's shapes (Stripe API 2022-11-15 and later): a charge
carries no `refunds` list, and `refund.*` events carry a Refund object. They are
signed with the webhook secret. In these tests the Stripe API is unreachable (a
closed port), so the store knows only what the event says; the localstripe tests
cover fetching the refunds from the API.
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from shop.audit.models import AuditEntry
from shop.extensions import db
from shop.orders.gateways import DummyGateway
from shop.orders.models import Order, OrderStatus, Refund, RefundStatus
from shop.orders.payments import payment_succeeded
from shop.orders.refunds import RefundError, refund_order
from shop.training.models import Transfer, TransferKind
from tests.confirming import confirmed
from tests.conftest import client_as, sign_in
from tests.orders.conftest import intent, new_order, outcome_of, stocked_variant, stripe_event
from tests.orders.test_payments import outbox, post_event

PI = "pi_dash_1"


def _paid_stripe_order(client):
    variant = stocked_variant(quantity=5, price=2400, makers=2)
    order = new_order([(variant, 1)], gateway_name="stripe")
    from shop.orders.models import Payment

    db.session.add(
        Payment(order=order, gateway="stripe", reference=PI, amount=order.total, currency="USD")
    )
    db.session.commit()
    paid = stripe_event("evt_pay", "payment_intent.succeeded", intent(PI, order.total))
    assert outcome_of(post_event(client, paid)) == "paid"
    return db.session.get(Order, order.id)


def charge(amount_refunded: int, total: int) -> dict:
    """A Charge as `charge.refunded` carries it today: no `refunds` list."""
    return {"id": "ch_dash_1", "object": "charge", "amount": total, "amount_captured": total,
            "amount_refunded": amount_refunded, "refunded": amount_refunded == total,
            "currency": "usd", "metadata": {}, "payment_intent": PI, "status": "succeeded"}  # fmt: skip


def refund_object(refund_id: str, amount: int, status: str = "succeeded") -> dict:
    """A Refund object, as `refund.created` / `refund.updated` carry it."""
    return {"id": refund_id, "object": "refund", "amount": amount, "charge": "ch_dash_1",
            "created": 1700000000, "currency": "usd", "metadata": {}, "payment_intent": PI,
            "reason": None, "status": status, "balance_transaction": "txn_1"}  # fmt: skip


def _credited() -> int:
    return db.session.scalar(
        select(func.sum(Transfer.amount)).where(Transfer.kind == TransferKind.SALE_SHARE)
    )


def _reversed() -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(Transfer.amount), 0)).where(
            Transfer.kind == TransferKind.REFUND_REVERSAL
        )
    )


def test_a_dashboard_refund_of_todays_shape_is_booked_once_by_every_event(stripe_app):
    client = stripe_app.test_client()
    with stripe_app.app_context():
        order = _paid_stripe_order(client)
        total = order.total
        events = [
            stripe_event("evt_c1", "charge.refunded", charge(1000, total)),
            stripe_event("evt_r1", "refund.created", refund_object("re_dash_1", 1000)),
            stripe_event("evt_u1", "refund.updated", refund_object("re_dash_1", 1000)),
        ]
        outcomes = [outcome_of(post_event(client, e)) for e in events + events[::-1]]
        found = db.session.get(Order, order.id)
        assert found.refunded_amount == 1000, outcomes
        assert found.refund_status == RefundStatus.PARTIAL and found.status == OrderStatus.PAID
        assert outcomes[0] == "1 refund(s) booked"  # from the charge's amount_refunded
        assert set(outcomes[1:]) == {"0 refund(s) booked", "duplicate: already handled"}
        rows = db.session.scalars(select(Refund).where(Refund.order_id == order.id)).all()
        assert sum(r.amount for r in rows) == 1000
        # the refund, named later, claimed the money its charge's total had booked
        (named,) = [r for r in rows if r.reference == "re_dash_1"]
        assert (named.amount, named.covered) == (0, 1000)
        line = found.lines[0]
        assert line.refunded_amount == 1000  # one line: all of it comes from that line
        assert _reversed() == _credited() * 1000 // line.line_total > 0  # reversed once
        once = _reversed()
        # a second dashboard refund reported first by refund.created, then by its charge
        post_event(
            client, stripe_event("evt_r2", "refund.created", refund_object("re_dash_2", 400))
        )
        post_event(client, stripe_event("evt_c2", "charge.refunded", charge(1400, total)))
        found = db.session.get(Order, order.id)
        assert found.refunded_amount == 1400
        assert _reversed() > once


def test_refund_events_out_of_order_book_only_succeeded_refunds_once(stripe_app):
    client = stripe_app.test_client()
    with stripe_app.app_context():
        order = _paid_stripe_order(client)
        total = order.total
        sequence = [
            ("evt_a", "refund.updated", refund_object("re_a", 500)),  # arrives before created
            ("evt_b", "refund.created", refund_object("re_a", 500, "pending")),
            ("evt_c", "refund.created", refund_object("re_b", 300, "pending")),  # never books
            ("evt_d", "refund.updated", refund_object("re_b", 300, "canceled")),
            ("evt_e", "charge.refunded", charge(500, total)),
            ("evt_a", "refund.updated", refund_object("re_a", 500)),  # delivered twice
        ]
        for event_id, kind, obj in sequence:
            assert post_event(client, stripe_event(event_id, kind, obj)).status_code == 200
        found = db.session.get(Order, order.id)
        assert found.refunded_amount == 500
        rows = db.session.scalars(select(Refund).where(Refund.order_id == order.id)).all()
        assert [r.reference for r in rows if r.failed_at is None] == ["re_a"]
        # The canceled one is remembered (a later total must not book it), booking nothing.
        assert [r.reference for r in rows if r.failed_at is not None] == ["re_b"]
        assert not found.review_reason


# A refund booked by its id that fails later is undone: tests/orders/test_failed_refunds.py.
def test_a_refund_that_fails_when_it_may_be_inside_a_total_flags_the_order(stripe_app):
    """Booked only from the charge's total (no id), a refund reported failed cannot be
    told apart from the rest of that money: staff are told, nothing is undone."""
    client = stripe_app.test_client()
    with stripe_app.app_context():
        order = _paid_stripe_order(client)
        post_event(client, stripe_event("evt_total", "charge.refunded", charge(700, order.total)))
        post_event(
            client, stripe_event("evt_fail", "refund.updated", refund_object("re_x", 700, "failed"))
        )
        found = db.session.get(Order, order.id)
        assert found.refunded_amount == 700 and "re_x" in found.review_reason


def test_an_order_is_shipped_once_whatever_is_refunded(app, ctx):
    admin = client_as(app, "admin")
    variant = stocked_variant(quantity=5, price=1500)
    order = new_order([(variant, 2)])
    payment_succeeded(
        order, gateway_name="dummy", reference="dummy_pi_s", amount=order.total, currency="USD"
    )
    line_id, token = order.lines[0].id, order.token
    db.session.commit()
    before = len(outbox(app))

    assert (
        admin.post(f"/admin/orders/{order.id}/ship", data={"tracking_number": "LX1"}).status_code
        == 302
    )
    refunded = confirmed(
        admin,
        f"/admin/orders/{order.id}/refund/confirm",
        data={"request_key": "part", f"line-{line_id}": "5.00"},
    )
    assert refunded.status_code == 302
    again = admin.post(f"/admin/orders/{order.id}/ship", data={"tracking_number": "LX2"},
                       follow_redirects=True)  # fmt: skip
    assert "cannot be shipped" in again.get_data(as_text=True)

    found = db.session.get(Order, order.id)
    assert found.status == OrderStatus.FULFILLED and found.tracking_number == "LX1"
    assert found.refund_status == RefundStatus.PARTIAL
    shipping_mails = [m for m in outbox(app)[before:] if "on its way" in m]
    assert len(shipping_mails) == 1
    # both facts, on the back office's page and on the buyer's
    page = admin.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "Shipped" in page and "Partly refunded" in page and "Mark as shipped" not in page
    buyer = app.test_client().get(f"/orders/{token}").get_data(as_text=True)
    assert "Shipped" in buyer and "Partly refunded" in buyer and "$5.00" in buyer


def test_an_order_refunded_in_full_before_shipping_cannot_be_shipped(app, ctx):
    admin = client_as(app, "admin")
    variant = stocked_variant(quantity=5, price=1500)
    order = new_order([(variant, 1)])
    payment_succeeded(
        order, gateway_name="dummy", reference="dummy_pi_f", amount=order.total, currency="USD"
    )
    db.session.commit()
    confirmed(
        admin,
        f"/admin/orders/{order.id}/refund/confirm",
        data={"request_key": "all", "everything": "y"},
    )
    page = admin.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "Refunded in full" in page and "Mark as shipped" not in page
    refused = admin.post(f"/admin/orders/{order.id}/ship", data={"tracking_number": "LX3"},
                         follow_redirects=True)  # fmt: skip
    assert "refunded in full" in refused.get_data(as_text=True)
    found = db.session.get(Order, order.id)
    assert found.status == OrderStatus.PAID and found.tracking_number == ""
    assert "/admin/orders/" + str(order.id) not in admin.get(
        "/admin/orders?status=to_ship"
    ).get_data(as_text=True)


def test_the_refund_command_writes_an_audit_entry(app, ctx):
    variant = stocked_variant(price=2000)
    order = new_order([(variant, 1)])
    payment_succeeded(
        order, gateway_name="dummy", reference="dummy_pi_a", amount=order.total, currency="USD"
    )
    db.session.commit()
    result = app.test_cli_runner().invoke(
        args=["orders", "refund", order.number, "--line", f"{variant.sku}=5.00"]
    )
    assert result.exit_code == 0, result.output
    (entry,) = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "order.refund"))
    assert entry.actor_id is None and entry.address == "command line"
    assert entry.target_id == order.id and entry.after["refunded_amount"] == 500


def test_a_refund_committed_while_the_gateway_answers_is_kept(committed_app):
    """The command plans a refund and calls the gateway; meanwhile an admin refunds
    another line and commits. Both refunds stay booked, and the admin did not wait on
    the gateway (on PostgreSQL the old code lost the admin's refund; on SQLite the
    admin waited for the command's write lock)."""
    from tests import factories as f

    app = committed_app
    with app.app_context():
        first, second = stocked_variant(price=1000), stocked_variant(price=3000)
        order = new_order([(first, 1), (second, 1)])
        payment_succeeded(
            order, gateway_name="dummy", reference="dummy_pi_l", amount=order.total, currency="USD"
        )
        admin = f.user("admin")
        db.session.commit()
        order_id, number, total = order.id, order.number, order.total
        second_line = next(line.id for line in order.lines if line.variant_id == second.id)
        first_sku = first.sku
        admin_id = admin.id
    admin_client = app.test_client()

    class Person:
        id = admin_id

    sign_in(admin_client, Person)
    meanwhile: list[int] = []

    def admin_refunds():
        response = confirmed(
            admin_client,
            f"/admin/orders/{order_id}/refund/confirm",
            data={"request_key": "meanwhile", f"line-{second_line}": "10.00"},
        )
        meanwhile.append(response.status_code)

    class GatewayWithSomeoneElseMeanwhile(DummyGateway):
        calls = 0

        def refund(self, **kwargs):
            GatewayWithSomeoneElseMeanwhile.calls += 1
            if GatewayWithSomeoneElseMeanwhile.calls == 1:  # the command's call only
                other = threading.Thread(target=admin_refunds)
                other.start()
                other.join(timeout=8)
            return super().refund(**kwargs)

    real = app.extensions["payment_gateway"]
    app.extensions["payment_gateway"] = GatewayWithSomeoneElseMeanwhile()
    try:
        result = app.test_cli_runner().invoke(
            args=["orders", "refund", number, "--line", f"{first_sku}=5.00"]
        )
    finally:
        app.extensions["payment_gateway"] = real
    assert meanwhile == [302], "the admin's refund waited on the command's call to the gateway"
    assert result.exit_code == 0, result.output
    with app.app_context():
        found = db.session.get(Order, order_id)
        assert found.refunded_amount == 500 + 1000 < total
        rows = db.session.scalars(select(Refund).where(Refund.order_id == order_id)).all()
        assert sorted(r.amount for r in rows) == [500, 1000]
        assert sorted(line.refunded_amount for line in found.lines) == [500, 1000]


def test_a_refund_planned_while_another_waits_on_the_gateway_cannot_plan_its_money(app, ctx):
    """Two refunds of the same line planned one inside the other's call to the gateway:
    the first one's claim is committed before it calls out, so the second sees that
    money taken and is refused; nothing lands on the other line or the shipping."""
    variant, other = stocked_variant(price=1000), stocked_variant(price=1000)
    order = new_order([(variant, 1), (other, 1)])
    payment_succeeded(
        order, gateway_name="dummy", reference="dummy_pi_t", amount=order.total, currency="USD"
    )
    db.session.commit()
    line = next(x for x in order.lines if x.variant_id == variant.id)
    refused = []

    class RefundsTwiceAtOnce(DummyGateway):
        inside = False

        def refund(self, **kwargs):
            if not RefundsTwiceAtOnce.inside:
                RefundsTwiceAtOnce.inside = True
                try:
                    refund_order(order.id, DummyGateway(), line_amounts={line.id: 800},
                                 idempotency_key="inner")  # fmt: skip
                except RefundError as exc:
                    refused.append(str(exc))
                db.session.rollback()
            return super().refund(**kwargs)

    refund_order(
        order.id, RefundsTwiceAtOnce(), line_amounts={line.id: 800}, idempotency_key="outer"
    )
    db.session.commit()
    assert refused and "at most $2.00" in refused[0] and "being refunded right now" in refused[0]
    found = db.session.get(Order, order.id)
    assert found.refunded_amount == 800
    by_line = {x.id: x.refunded_amount for x in found.lines}
    assert by_line.pop(line.id) == 800 and list(by_line.values()) == [0]


def test_a_store_refund_whose_webhook_arrives_first_is_booked_once_as_planned(app, ctx):
    """Stripe may report the refund before the request that asked for it books it:
    the webhook books it from the plan the store put in the refund's metadata."""
    from shop.orders.gateway_events import handle_gateway_event
    from shop.orders.gateways import GatewayEvent

    first, second = stocked_variant(price=1000), stocked_variant(price=1000)
    order = new_order([(first, 1), (second, 1)])
    payment_succeeded(
        order, gateway_name="dummy", reference="dummy_pi_w", amount=order.total, currency="USD"
    )
    db.session.commit()
    line = next(x for x in order.lines if x.variant_id == second.id)

    class WebhookFirst(DummyGateway):
        def refund(self, **kwargs):
            made = super().refund(**kwargs)
            event = GatewayEvent(
                "evt_first", "refunds_changed", kwargs["reference"], refunds=(made,)
            )
            assert handle_gateway_event("dummy", event)[0] == "1 refund(s) booked"
            db.session.commit()
            return made

    done = refund_order(order.id, WebhookFirst(), line_amounts={line.id: 300}, idempotency_key="w")
    db.session.commit()
    assert not done.booked_now
    found = db.session.get(Order, order.id)
    assert found.refunded_amount == 300
    assert {x.id: x.refunded_amount for x in found.lines}[line.id] == 300  # as planned
    assert db.session.scalar(select(func.count(Refund.id))) == 1
    assert (
        db.session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "order.refund")
        )
        == 1
    )


def test_signed_refund_events_of_a_strange_shape_are_refused_changing_nothing(stripe_app):
    client = stripe_app.test_client()
    with stripe_app.app_context():
        order = _paid_stripe_order(client)
        strange = [
            ("charge.refunded", {"id": "ch_x", "payment_intent": PI, "refunds": [1], "amount_refunded": "x"}),
            ("refund.created", {"id": 5, "amount": 100, "payment_intent": PI, "status": "succeeded"}),
            ("refund.updated", {"id": "re_y", "amount": -100, "payment_intent": PI, "status": "succeeded"}),
            ("refund.created", {"id": "re_z" * 40, "amount": 100, "payment_intent": PI}),
            ("refund.created", {"id": "re_w", "amount": "100", "payment_intent": PI, "status": "succeeded"}),
            ("charge.refunded", {"id": "ch_x", "payment_intent": [PI], "amount_refunded": 100}),
        ]  # fmt: skip
        for n, (kind, obj) in enumerate(strange):
            response = post_event(client, stripe_event(f"evt_strange_{n}", kind, obj))
            assert response.status_code == 400, kind
        assert db.session.get(Order, order.id).refunded_amount == 0


def test_a_refund_event_with_an_absurd_creation_time_is_booked_not_a_500(stripe_app):
    client = stripe_app.test_client()
    with stripe_app.app_context():
        order = _paid_stripe_order(client)
        post_event(client, stripe_event("evt_total", "charge.refunded", charge(100, order.total)))
        absurd = {**refund_object("re_far", 100), "created": 10**30}
        response = post_event(client, stripe_event("evt_far", "refund.created", absurd))
        assert response.status_code == 200
        db.session.expire_all()
        rows = db.session.scalars(select(Refund).where(Refund.order_id == order.id)).all()
        assert sorted((r.reference, r.amount, r.covered) for r in rows) == [
            ("", 100, 0),
            ("re_far", 0, 100),
        ]


def test_a_store_refund_the_gateway_holds_as_pending_is_booked_only_when_it_succeeds(app, ctx):
    from dataclasses import replace

    from shop.orders.gateway_events import handle_gateway_event
    from shop.orders.gateways import GatewayEvent

    variant, other = stocked_variant(price=1000), stocked_variant(price=1000)
    order = new_order([(variant, 1), (other, 1)])
    payment_succeeded(
        order, gateway_name="dummy", reference="dummy_pi_p", amount=order.total, currency="USD"
    )
    db.session.commit()
    line = next(x for x in order.lines if x.variant_id == other.id)
    held = []

    class Pending(DummyGateway):
        def refund(self, **kwargs):
            held.append(replace(super().refund(**kwargs), status="pending"))
            return held[-1]

    app.extensions["payment_gateway"], real = Pending(), app.extensions["payment_gateway"]
    try:
        result = app.test_cli_runner().invoke(
            args=["orders", "refund", order.number, "--line", f"{other.sku}=4.00"]
        )
    finally:
        app.extensions["payment_gateway"] = real
    assert result.exit_code == 0 and "pending" in result.output, result.output
    assert db.session.get(Order, order.id).refunded_amount == 0

    succeeded = replace(held[0], status="succeeded")  # refund.updated, with the store's plan
    event = GatewayEvent("evt_settled", "refunds_changed", "dummy_pi_p", refunds=(succeeded,))
    assert handle_gateway_event("dummy", event)[0] == "1 refund(s) booked"
    db.session.commit()
    found = db.session.get(Order, order.id)
    assert found.refunded_amount == 400
    assert {x.id: x.refunded_amount for x in found.lines}[line.id] == 400  # as planned
