"""Paying (dummy gateway and signed Stripe webhooks), allocation to batches,
the 'order paid' announcement, refunds and emails."""

import email
import email.policy
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from shop.catalog.models import Variant
from shop.extensions import db
from shop.jobs.models import Job
from shop.orders import signals
from shop.orders.gateways import DummyGateway
from shop.orders.models import (
    GatewayEvent,
    LineAllocation,
    Order,
    OrderStatus,
    Payment,
    Refund,
    RefundStatus,
)
from shop.orders.payments import payment_succeeded
from shop.orders.refunds import RefundError, refund_order
from shop.orders.states import IllegalTransition, transition
from shop.provenance.models import Batch
from tests import factories as f
from tests.conftest import QueryCounter, jobs_held
from tests.orders.conftest import (
    intent,
    new_order,
    outcome_of,
    sign,
    stocked_variant,
    stripe_event,
)


@pytest.fixture
def announcements(app):
    paid, refunded = [], []
    on_paid = lambda sender, event: paid.append(event)  # noqa: E731
    on_refund = lambda sender, event: refunded.append(event)  # noqa: E731
    signals.order_paid.connect(on_paid)
    signals.order_line_refunded.connect(on_refund)
    yield paid, refunded
    signals.order_paid.disconnect(on_paid)
    signals.order_line_refunded.disconnect(on_refund)


def outbox(app) -> list[str]:
    """The plain-text bodies of the mails written so far, oldest first."""
    folder = Path(app.config["MAIL_OUTBOX"])
    if not folder.exists():
        return []
    texts = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        texts.append(
            f"Subject: {message['Subject']}\n" + message.get_body(("plain",)).get_content()
        )
    return texts


def test_illegal_transitions_raise(ctx):
    order = new_order([(stocked_variant(), 1)])
    with pytest.raises(IllegalTransition):
        transition(order, OrderStatus.FULFILLED)
    transition(order, OrderStatus.CANCELLED)
    with pytest.raises(IllegalTransition):
        transition(order, OrderStatus.PAID)


def test_dummy_gateway_declines_then_pays_and_traces_units_to_batches_fifo(
    client, ctx, app, announcements
):
    paid, _ = announcements
    w = f.workshop()
    p = f.product(w, price=1000)
    variant = p.variants[0]
    a, b = f.trainee(w), f.trainee(w)
    older = f.batch(
        variant, quantity=2, makers=[(a, 1)], produced_month=__import__("datetime").date(2026, 1, 1)
    )
    newer = f.batch(variant, quantity=5, makers=[(b, 1)])
    order = new_order([(variant, 3)])
    db.session.commit()
    before = len(outbox(app))

    declined = client.post(
        f"/orders/{order.token}/pay", data={"card_number": "4000 0000 0000 0002"}
    )
    assert declined.status_code == 402 and "declined" in declined.get_data(as_text=True)
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT

    response = client.post(
        f"/orders/{order.token}/pay", data={"card_number": "4242 4242 4242 4242"}
    )
    assert response.status_code == 302
    order = db.session.get(Order, order.id)
    assert order.status == OrderStatus.PAID
    allocations = db.session.scalars(select(LineAllocation).order_by(LineAllocation.id)).all()
    assert [(x.batch_id, x.quantity) for x in allocations] == [(older.id, 2), (newer.id, 1)]
    assert db.session.get(Batch, older.id).units_allocated == 2
    assert db.session.scalar(select(Variant.stock).where(Variant.id == variant.id)) == 4

    assert len(paid) == 1
    (line,) = paid[0].lines
    assert (line.line_total, line.share) == (3000, 300)
    assert line.allocations == (signals.BatchShare(older.id, 2), signals.BatchShare(newer.id, 1))

    mails = outbox(app)
    assert len(mails) == before + 1
    assert order.number in mails[-1]
    assert f"$3.00 to the makers' training accounts at {w.name}." in mails[-1]
    assert "2 makers" not in mails[-1]  # no head count under five
    assert a.legal_name not in mails[-1] and b.legal_name not in mails[-1]
    assert order.token in mails[-1]
    # paying again is impossible: the page sends the buyer to the order
    assert (
        client.post(
            f"/orders/{order.token}/pay", data={"card_number": "4242424242424242"}
        ).status_code
        == 302
    )
    assert len(paid) == 1


def test_a_mail_failure_never_loses_the_order_nor_its_email(client, ctx, app, monkeypatch, caplog):
    import shop.mail as mail

    real_deliver = mail.deliver

    def broken(message):
        raise ConnectionRefusedError(111, "smtp down")

    monkeypatch.setattr(mail, "deliver", broken)
    order = new_order([(stocked_variant(), 1)])
    db.session.commit()
    response = client.post(f"/orders/{order.token}/pay", data={"card_number": "4242424242424242"})
    assert response.status_code == 302
    assert db.session.get(Order, order.id).status == OrderStatus.PAID
    (job,) = db.session.scalars(select(Job).where(Job.kind == "order_confirmation")).all()
    assert (job.status, job.attempts, job.last_error) == (
        "pending",
        1,
        "ConnectionRefusedError: errno 111",
    )
    assert "buyer@example.com" not in caplog.text

    monkeypatch.setattr(mail, "deliver", real_deliver)  # the mail server is back
    drain(app)
    told = [m["Subject"] for m in outbox_messages(app) if order.number in m["Subject"]]
    assert told == [f"Your order {order.number} from Made Known"]
    db.session.refresh(job)
    assert (job.status, job.attempts) == ("done", 2)


def drain(app) -> int:
    from shop.jobs.outbox import drain as run_due_jobs

    with app.app_context():
        return run_due_jobs()


def outbox_messages(app) -> list:
    folder = Path(app.config["MAIL_OUTBOX"])
    return (
        [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(folder.glob("*.eml"))
        ]
        if folder.exists()
        else []
    )


def test_a_fault_while_paying_leaves_the_order_unpaid_and_stock_untouched(
    client, ctx, monkeypatch, announcements
):
    import shop.orders.payments as services

    paid, _ = announcements
    variant = stocked_variant(quantity=5)
    order = new_order([(variant, 2)])
    db.session.commit()

    def broken(variant_id, quantity, reason):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "sell_held_units", broken)
    with pytest.raises(RuntimeError):
        client.post(f"/orders/{order.token}/pay", data={"card_number": "4242424242424242"})
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT
    assert db.session.scalar(select(func.count(LineAllocation.id))) == 0
    assert db.session.scalar(select(func.count(Payment.id))) == 0
    assert db.session.scalar(select(Variant.stock).where(Variant.id == variant.id)) == 3
    assert paid == []  # announced, but rolled back with everything else: nobody saw it commit


def _stripe_order(reference="pi_test_1", makers=2):
    variant = stocked_variant(quantity=5, price=2400, makers=makers)
    order = new_order([(variant, 1)], gateway_name="stripe")
    db.session.add(
        Payment(
            order=order, gateway="stripe", reference=reference, amount=order.total, currency="USD"
        )
    )
    db.session.commit()
    return order


def post_event(client, payload: bytes, signature: str | None = None):
    headers = {"Stripe-Signature": signature if signature is not None else sign(payload)}
    return client.post(
        "/stripe/webhook", data=payload, headers=headers, content_type="application/json"
    )


def test_webhook_rejects_a_forged_or_missing_signature_and_changes_nothing(stripe_app):
    client = stripe_app.test_client()
    with stripe_app.app_context():
        order = _stripe_order()
        payload = stripe_event(
            "evt_forged", "payment_intent.succeeded", intent("pi_test_1", order.total)
        )
        assert post_event(client, payload, sign(payload, secret="whsec_wrong")).status_code == 400
        assert post_event(client, payload, "").status_code == 400
        assert post_event(client, payload + b" ", sign(payload)).status_code == 400
        assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT
        assert db.session.scalar(select(func.count(GatewayEvent.id))) == 0


MALFORMED_INTENTS = [
    ("payment_intent.succeeded", {"amount": 100, "amount_received": 100}),  # no id
    ("payment_intent.succeeded", {"id": "pi_test_1", "amount_received": 100, "metadata": "str"}),
    ("payment_intent.succeeded", {"id": ["a"], "amount_received": 100}),
    ("payment_intent.succeeded", {"id": "pi_test_1", "amount_received": {"a": 1}}),
    ("payment_intent.succeeded", {"id": "pi_test_1", "amount_received": "100"}),
    ("payment_intent.succeeded", {"id": "pi_test_1", "amount_received": 10**30}),
    ("payment_intent.succeeded", {"id": "pi_test_1", "currency": ["usd"]}),
    ("payment_intent.succeeded", {"id": "pi_test_1", "metadata": {"order_id": "²"}}),
    ("payment_intent.payment_failed", {"amount": 100}),  # no id
    ("payment_intent.payment_failed", {"id": {"x": 1}}),
    ("payment_intent.payment_failed", {"id": "pi_test_1", "metadata": [1]}),
]


@pytest.mark.parametrize(("kind", "obj"), MALFORMED_INTENTS)
def test_a_signed_payment_event_of_a_shape_stripe_never_sends_is_a_400_changing_nothing(
    stripe_app, kind, obj
):
    client = stripe_app.test_client()
    with stripe_app.app_context():
        order = _stripe_order()
        response = post_event(client, stripe_event("evt_odd", kind, obj))
        assert response.status_code == 400
        assert response.get_json()["error"] != "bad signature"  # it was well signed
        assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT
        assert db.session.scalar(select(func.count(GatewayEvent.id))) == 0


def test_webhook_pays_once_however_often_the_event_is_replayed(stripe_app):
    client = stripe_app.test_client()
    with stripe_app.app_context():
        order = _stripe_order()
        paid = []
        handler = lambda sender, event: paid.append(event)  # noqa: E731
        signals.order_paid.connect(handler)
        try:
            payload = stripe_event(
                "evt_ok", "payment_intent.succeeded", intent("pi_test_1", order.total)
            )
            responses = [post_event(client, payload) for _ in range(20)]
        finally:
            signals.order_paid.disconnect(handler)
        assert all(r.status_code == 200 for r in responses)
        assert outcome_of(responses[0]) == "paid"
        assert {outcome_of(r) for r in responses[1:]} == {"duplicate: already handled"}
        assert len(paid) == 1
        assert db.session.get(Order, order.id).status == OrderStatus.PAID
        assert db.session.scalar(select(func.count(LineAllocation.id))) == 1

        # a failure reported after the success does not un-pay the order
        late = stripe_event("evt_late_fail", "payment_intent.payment_failed",
                            intent("pi_test_1", order.total, last_payment_error={"message": "declined"}))  # fmt: skip
        assert outcome_of(post_event(client, late)) == "ignored: already paid"
        assert db.session.get(Order, order.id).status == OrderStatus.PAID


# The webhook's request records the event and its job: 2 statements, however big the order.
WEBHOOK_REQUEST_BUDGET = 2
# The event's job: the payment itself takes 10 statements (issue 3's budget); crediting the
# training accounts in the same transaction adds 4 (makers, lock accounts, move totals,
# insert transfers), the sale's stock update and its movement row 2, the job 6 (its claim:
# update and read; the event's row and its outcome; the confirmation's job; done).
# + the storefront version the sale changes (the page cache's token), + whether a line's
# workshop was suspended, + the transparency log's 8 as the transaction commits (lock its
# head; read the transfers; read the tree's right edge, or on a log still empty every
# transfer to adopt; insert the leaves; insert the nodes; move the head; publish the key,
# once; keep the signed checkpoint), however many makers share the sale.
EVENT_JOB_BUDGET = 10 + 4 + 2 + 6 + 1 + 1 + 8


@pytest.mark.parametrize("makers", [2, 12])
def test_webhook_query_budget(stripe_app, makers):
    from shop.jobs.outbox import run

    client = stripe_app.test_client()
    with stripe_app.app_context(), jobs_held(stripe_app):
        for _ in range(20):
            stocked_variant(makers=makers)
        order = _stripe_order(makers=makers)
        payload = stripe_event(
            "evt_budget", "payment_intent.succeeded", intent("pi_test_1", order.total)
        )
        with counting() as request:
            assert post_event(client, payload).status_code == 200
        assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT
        (job_id,) = db.session.scalars(select(Job.id).where(Job.kind == "gateway_event"))
        db.session.commit()  # ends the test's read: the job's transactions are its own
        with counting() as job:
            assert run(job_id) == "done"
        assert outcome_of_event("evt_budget") == "paid"
    assert request.count <= WEBHOOK_REQUEST_BUDGET, "\n".join(request.statements)
    assert job.count <= EVENT_JOB_BUDGET, "\n".join(s[:100] for s in job.statements)


@contextmanager
def counting():
    counter = QueryCounter()
    connection = db.engines[None]
    sa_event.listen(connection, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        sa_event.remove(connection, "before_cursor_execute", counter)


def outcome_of_event(event_id: str) -> str:
    from shop.orders.models import GatewayEvent

    return db.session.scalar(select(GatewayEvent.outcome).where(GatewayEvent.event_id == event_id))


def test_the_webhook_answers_at_once_and_its_job_applies_the_event(stripe_app):
    client = stripe_app.test_client()
    with stripe_app.app_context(), jobs_held(stripe_app) as drain_now:
        order = _stripe_order()
        payload = stripe_event(
            "evt_quick", "payment_intent.succeeded", intent("pi_test_1", order.total)
        )
        answer = post_event(client, payload)
        assert answer.status_code == 200
        assert answer.get_json() == {"received": True, "event": "evt_quick", "duplicate": False}
        assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT
        assert post_event(client, payload).get_json()["duplicate"] is True  # known at once
        assert outcome_of_event("evt_quick") == ""  # recorded, not applied yet
        db.session.commit()

        assert drain_now() == 2  # the event's job, then the confirmation it queued
        db.session.expire_all()
        assert db.session.get(Order, order.id).status == OrderStatus.PAID
        assert outcome_of_event("evt_quick") == "paid"
        kinds = db.session.execute(select(Job.kind, Job.status).order_by(Job.id)).all()
        assert kinds == [("gateway_event", "done"), ("order_confirmation", "done")]
    told = [m["Subject"] for m in outbox_messages(stripe_app) if order.number in m["Subject"]]
    assert told == [f"Your order {order.number} from Made Known"]


def test_a_failure_then_a_success_pays(stripe_app):
    client = stripe_app.test_client()
    with stripe_app.app_context():
        order = _stripe_order()
        fail = stripe_event("evt_f", "payment_intent.payment_failed",
                            intent("pi_test_1", order.total, last_payment_error={"message": "Card declined"}))  # fmt: skip
        assert outcome_of(post_event(client, fail)) == "failure recorded"
        assert db.session.get(Order, order.id).last_payment_error == "Card declined"
        ok = stripe_event("evt_s", "payment_intent.succeeded", intent("pi_test_1", order.total))
        assert outcome_of(post_event(client, ok)) == "paid"


def test_a_success_for_the_wrong_amount_or_currency_flags_the_order_instead_of_paying(stripe_app):
    client = stripe_app.test_client()
    with stripe_app.app_context():
        order = _stripe_order()
        short = stripe_event(
            "evt_short", "payment_intent.succeeded", intent("pi_test_1", order.total - 1)
        )
        assert outcome_of(post_event(client, short)) == "flagged: amount mismatch"
        euros = stripe_event(
            "evt_eur", "payment_intent.succeeded", intent("pi_test_1", order.total, "eur")
        )
        assert outcome_of(post_event(client, euros)) == "flagged: amount mismatch"
        found = db.session.get(Order, order.id)
        assert (
            found.status == OrderStatus.PENDING_PAYMENT and "€" in found.review_reason
        )  # euros, formatted


def test_an_unknown_payment_changes_nothing(stripe_app):
    client = stripe_app.test_client()
    with stripe_app.app_context():
        payload = stripe_event("evt_x", "payment_intent.succeeded", intent("pi_nobody", 100))
        assert outcome_of(post_event(client, payload)) == "no matching order"


def test_refunds_partial_then_full_announce_each_line_once(ctx, app, announcements):
    _, refunded = announcements
    v1, v2 = stocked_variant(price=1000), stocked_variant(price=500)
    order = new_order([(v1, 2), (v2, 1)])
    payment_succeeded(
        order, gateway_name="dummy", reference="dummy_pi_1", amount=order.total, currency="USD"
    )
    db.session.commit()
    lines = {line.sku: line for line in order.lines}
    first = lines[v1.sku]

    done = refund_order(
        order.id, DummyGateway(), line_amounts={first.id: 750}, idempotency_key="k1"
    )
    refund_id = done.refund.id
    db.session.commit()
    assert order.status == OrderStatus.PAID and order.refund_status == RefundStatus.PARTIAL
    assert done.refund.amount == 750 and done.booked_now
    assert [(e.line_id, e.amount, e.refunded_total) for e in refunded] == [(first.id, 750, 750)]
    # the same request again (a double press) books nothing more
    again = refund_order(
        order.id, DummyGateway(), line_amounts={first.id: 750}, idempotency_key="k1"
    )
    assert again.refund.id == refund_id and not again.booked_now
    assert len(refunded) == 1
    with pytest.raises(RefundError, match=r"at most \$12\.50"):
        refund_order(order.id, DummyGateway(), line_amounts={first.id: 1251})

    rest = refund_order(order.id, DummyGateway(), idempotency_key="k2").refund
    db.session.commit()
    order = db.session.get(Order, order.id)
    assert rest.amount == order.total - 750
    assert order.status == OrderStatus.PAID and order.refund_status == RefundStatus.FULL
    assert order.refunded_amount == order.total
    assert sorted(e.amount for e in refunded[1:]) == [500, 1250]
    with pytest.raises(RefundError, match="nothing left"):
        refund_order(order.id, DummyGateway())
    assert db.session.scalar(select(func.count(Refund.id))) == 2


def test_refund_command_refunds_a_line_through_the_gateway(app, ctx):
    variant = stocked_variant(price=2000)
    order = new_order([(variant, 1)])
    payment_succeeded(
        order, gateway_name="dummy", reference="dummy_pi_2", amount=order.total, currency="USD"
    )
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["orders", "refund", order.number, "--line", f"{variant.sku}=5.00"])
    assert result.exit_code == 0, result.output
    assert "Refunded $5.00" in result.output and "partly refunded" in result.output
    bad = runner.invoke(args=["orders", "refund", order.number, "--line", f"{variant.sku}=99.00"])
    assert bad.exit_code != 0 and "Nothing was refunded" in bad.output


def test_the_stripe_pay_page_says_plainly_when_stripe_cannot_be_reached(stripe_app):
    # STRIPE_API_BASE points at a closed port in this app: the gateway is unreachable.
    client = stripe_app.test_client()
    with stripe_app.app_context():
        variant = stocked_variant()
        order = new_order([(variant, 1)], gateway_name="stripe")
        token, order_id = order.token, order.id
        db.session.commit()
    response = client.get(f"/orders/{token}/pay")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "can't take payment right now" in page and "try again" in page
    with stripe_app.app_context():
        assert db.session.get(Order, order_id).payments == []
