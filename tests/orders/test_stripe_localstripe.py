"""Stripe end to end against localstripe, a stateful Stripe-compatible server.

Nothing here is a double: localstripe runs as its own process on a free port,
the store is served over HTTP on its own SQLite database, and localstripe
delivers its signed `payment_intent.succeeded` webhook to the store by itself.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select
from werkzeug.serving import make_server

from shop import create_app
from shop.catalog.models import StockMovement, StockMovementKind, Variant
from shop.config import config_for_tests
from shop.extensions import db
from shop.orders.models import (
    LineAllocation,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    RefundStatus,
    Reservation,
    ReservationStatus,
)
from tests.confirming import confirmed
from tests.conftest import _postgres_schema_url, _run_postgres
from tests.orders.conftest import new_order, stocked_variant

WEBHOOK_SECRET = "whsec_localstripe_e2e"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _localstripe_command() -> list[str] | None:
    if importlib.util.find_spec("localstripe") is None:
        return None
    return [sys.executable, "-m", "tests.localstripe_server"]


def _wait_for(url: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers, even if with an error
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def localstripe():
    command = _localstripe_command()
    if command is None:
        pytest.fail("localstripe is pinned in requirements-dev.txt but is not installed")
    port = _free_port()
    process = subprocess.Popen(
        [*command, str(port)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/v1/customers")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def stripe_store(localstripe, tmp_path_factory):
    """The store with PAYMENT_GATEWAY=stripe aimed at localstripe, served over HTTP, on a
    database of its own (a fresh PostgreSQL schema when TEST_DATABASE_URL is set)."""
    root = tmp_path_factory.mktemp("stripe-live")
    base_url, schema = os.environ.get("TEST_DATABASE_URL"), None
    if base_url:
        url, schema = _postgres_schema_url(base_url)
        _run_postgres(base_url, f'CREATE SCHEMA "{schema}"')
    else:
        url = f"sqlite:///{root / 'store.db'}"
    app = create_app(
        config_for_tests(
            url,
            str(root / "media"),
            PAYMENT_GATEWAY="stripe",
            STRIPE_SECRET_KEY="sk_test_localstripe",
            STRIPE_PUBLISHABLE_KEY="pk_test_localstripe",
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            STRIPE_API_BASE=localstripe,
            STRIPE_JS_URL=f"{localstripe}/js.stripe.com/v3/",
        )
    )
    with app.app_context():
        upgrade()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    _post_json(
        f"{localstripe}/_config/webhooks/store",
        {"url": f"{base}/stripe/webhook", "secret": WEBHOOK_SECRET},
    )
    try:
        yield app, base
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if schema:
            _run_postgres(base_url, f'DROP SCHEMA "{schema}" CASCADE')


def _post_json(url: str, body: dict) -> None:
    data = "&".join(f"{key}={urllib.request.quote(value)}" for key, value in body.items())
    request = urllib.request.Request(url, data=data.encode(), method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _placed_order(app) -> tuple[int, str, int]:
    with app.app_context():
        variant = stocked_variant(quantity=6, price=3100, makers=3)
        variant_id = variant.id
        order = new_order([(variant, 2)], gateway_name="stripe")
        token, order_id = order.token, order.id
        db.session.commit()
    return order_id, token, variant_id


def _pay_at_localstripe(app, base: str, localstripe: str) -> tuple[int, str, int, str]:
    """Place an order, open its pay page, pay it with a test card at localstripe, and wait
    for localstripe's signed webhook. Returns (order id, token, variant id, intent id)."""
    import stripe

    order_id, token, variant_id = _placed_order(app)

    with urllib.request.urlopen(f"{base}/orders/{token}/pay", timeout=10) as response:
        page = response.read().decode()
    assert response.status == 200
    assert "Pay" in page

    with app.app_context():
        payment = db.session.scalars(select(Payment).where(Payment.order_id == order_id)).one()
        reference, client_secret = payment.reference, payment.client_secret
        assert payment.amount == db.session.get(Order, order_id).total
    assert reference.startswith("pi_")
    assert client_secret and client_secret in page  # the Payment Element receives it

    client = stripe.StripeClient("sk_test_localstripe", base_addresses={"api": localstripe})
    intent = client.v1.payment_intents.retrieve(reference)
    assert intent.metadata["order_id"] == str(order_id)
    assert intent.currency == "usd"
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    client.v1.payment_intents.update(reference, params={"payment_method": method.id})
    confirmed = client.v1.payment_intents.confirm(reference)
    assert confirmed.status == "succeeded"

    deadline = time.monotonic() + 15
    while True:
        with app.app_context():
            status = db.session.get(Order, order_id).status
        if status != OrderStatus.PENDING_PAYMENT or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == OrderStatus.PAID, "localstripe's signed webhook never paid the order"
    return order_id, token, variant_id, reference


def test_a_card_payment_confirmed_at_localstripe_pays_the_order_through_its_webhook(
    localstripe, stripe_store
):
    app, base = stripe_store
    order_id, token, variant_id, _reference = _pay_at_localstripe(app, base, localstripe)

    with app.app_context():
        variant = db.session.get(Variant, variant_id)
        assert variant.stock == 4
        sold = db.session.scalar(
            select(func.sum(StockMovement.quantity)).where(
                StockMovement.variant_id == variant_id,
                StockMovement.kind == StockMovementKind.SALE,
            )
        )
        assert sold == -2
        allocated = db.session.scalar(
            select(func.sum(LineAllocation.quantity))
            .join(OrderLine, OrderLine.id == LineAllocation.line_id)
            .where(OrderLine.order_id == order_id)
        )
        assert allocated == 2
        held = db.session.scalars(
            select(Reservation.status).where(Reservation.order_id == order_id)
        )
        assert list(held) == [ReservationStatus.CONSUMED]
    with urllib.request.urlopen(f"{base}/orders/{token}", timeout=10) as response:
        assert "Paid" in response.read().decode()


def test_a_forged_webhook_reaching_the_live_store_is_refused(stripe_store):
    _app, base = stripe_store
    body = json.dumps({"id": "evt_forged", "type": "payment_intent.succeeded"}).encode()
    request = urllib.request.Request(f"{base}/stripe/webhook", data=body, method="POST")
    request.add_header("Stripe-Signature", "t=1,v1=00")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 400


def test_a_back_office_refund_reaches_localstripe_once_however_often_it_is_pressed(
    localstripe, stripe_store
):
    import stripe

    from shop.orders.models import Refund
    from shop.training.models import Transfer, TransferKind
    from tests import factories as f

    app, base = stripe_store
    order_id, _token, _variant, reference = _pay_at_localstripe(app, base, localstripe)
    with app.app_context():
        admin = f.user("admin")
        order = db.session.get(Order, order_id)
        line_id, line_total = order.lines[0].id, order.lines[0].line_total
        db.session.commit()
        admin_id = admin.id
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = str(admin_id), True
    form = {"request_key": "pressed-twice", f"line-{line_id}": f"{line_total / 200:.2f}"}
    for _ in range(2):
        assert (
            confirmed(client, f"/admin/orders/{order_id}/refund/confirm", data=form).status_code
            == 302
        )

    with app.app_context():
        refunds = db.session.scalars(select(Refund).where(Refund.order_id == order_id)).all()
        assert len(refunds) == 1 and refunds[0].amount == line_total // 2
        assert refunds[0].reference.startswith("re_")
        assert db.session.get(Order, order_id).refund_status == RefundStatus.PARTIAL
        reversals = db.session.scalars(
            select(Transfer).where(
                Transfer.kind == TransferKind.REFUND_REVERSAL, Transfer.cause_id == line_id
            )
        ).all()
        assert reversals and sum(t.amount for t in reversals) > 0
        refund_reference = refunds[0].reference
    stripe_client = stripe.StripeClient("sk_test_localstripe", base_addresses={"api": localstripe})
    at_stripe = stripe_client.v1.refunds.retrieve(refund_reference)
    assert at_stripe.amount == line_total // 2 and at_stripe.payment_intent == reference


def test_no_lock_waits_on_stripe_while_the_pay_page_creates_the_intent(stripe_store):
    """While Stripe is creating the PaymentIntent, another request writes to the same order
    row; it must not wait, and the pay page must still record the payment afterwards."""
    from sqlalchemy import update

    app, base = stripe_store
    order_id, token, _variant = _placed_order(app)
    gateway = app.extensions["payment_gateway"]
    real_start = gateway.start_payment
    writer_took: list[float] = []

    def write_meanwhile():
        began = time.monotonic()
        with app.app_context():
            db.session.execute(update(Order).where(Order.id == order_id).values(review_reason=""))
            db.session.commit()
        writer_took.append(time.monotonic() - began)

    def start_payment_while_someone_writes(**kwargs):
        writer = threading.Thread(target=write_meanwhile)
        writer.start()
        writer.join(timeout=10)
        return real_start(**kwargs)

    gateway.start_payment = start_payment_while_someone_writes
    try:
        with urllib.request.urlopen(f"{base}/orders/{token}/pay", timeout=30) as response:
            assert response.status == 200
    finally:
        gateway.start_payment = real_start
    assert writer_took and writer_took[0] < 5, "a write waited on the call to Stripe"
    with app.app_context():
        payment = db.session.scalars(select(Payment).where(Payment.order_id == order_id)).one()
        assert payment.reference.startswith("pi_")


def _post_signed(app, base: str, payload: bytes) -> dict:
    """Deliver a signed event; the answer, with the outcome its job recorded."""
    from shop.orders.models import GatewayEvent
    from tests.orders.conftest import sign

    request = urllib.request.Request(f"{base}/stripe/webhook", data=payload, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Stripe-Signature", sign(payload, secret=WEBHOOK_SECRET))
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    with app.app_context():
        answer["outcome"] = db.session.scalar(
            select(GatewayEvent.outcome).where(GatewayEvent.event_id == answer["event"])
        )
    return answer


def test_a_refund_made_at_stripe_is_booked_from_the_refunds_the_store_fetches(
    localstripe, stripe_store
):
    """A refund made at Stripe directly (as in its dashboard). The signed `charge.refunded`
    of today's shape names no refund; the store lists them from localstripe's API and
    books this one by its id, once, whatever else reports it."""
    import stripe

    from shop.orders.models import Refund
    from tests.orders.conftest import stripe_event

    app, base = stripe_store
    order_id, _token, _variant, reference = _pay_at_localstripe(app, base, localstripe)
    client = stripe.StripeClient("sk_test_localstripe", base_addresses={"api": localstripe})
    made = client.v1.refunds.create(params={"payment_intent": reference, "amount": 1500})
    assert made.status == "succeeded"
    latest = client.v1.payment_intents.retrieve(reference).latest_charge
    with app.app_context():
        total = db.session.get(Order, order_id).total
    charge = {"id": latest if isinstance(latest, str) else latest.id, "object": "charge",
              "amount": total, "amount_captured": total, "amount_refunded": 1500,
              "refunded": False, "currency": "usd", "metadata": {}, "payment_intent": reference,
              "status": "succeeded"}  # fmt: skip
    assert "refunds" not in charge  # API version 2022-11-15 and later

    answer = _post_signed(
        app, base, stripe_event("evt_ls_charge_refunded", "charge.refunded", charge)
    )
    assert answer["outcome"] == "1 refund(s) booked"
    again = [
        _post_signed(
            app, base, stripe_event("evt_ls_refund_created", "refund.created", made.to_dict())
        ),
        _post_signed(app, base, stripe_event("evt_ls_charge_again", "charge.refunded", charge)),
    ]
    assert [a["outcome"] for a in again] == ["0 refund(s) booked", "0 refund(s) booked"]
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.refunded_amount == 1500 and order.refund_status == RefundStatus.PARTIAL
        (booked,) = db.session.scalars(select(Refund).where(Refund.order_id == order_id)).all()
        assert (booked.reference, booked.amount, booked.covered) == (made.id, 1500, 0)


def _cancel_as_staff(app, order_id: int) -> None:
    """Staff cancel the order from /admin/orders/<id> (its jobs run after the commit)."""
    from tests.conftest import client_as

    with app.app_context():
        admin = client_as(app, "admin")
    # Outside the setup's context: the confirmation page and its button are two requests,
    # each with its own session, as in production.
    answer = confirmed(admin, f"/admin/orders/{order_id}/cancel")
    assert answer.status_code == 302


def test_cancelling_an_order_cancels_its_payment_intent_at_stripe(localstripe, stripe_store):
    """Attack 3, finding D: an order cancelled while its pay page is open can no longer
    be paid there; its PaymentIntent is canceled at Stripe."""
    import stripe

    app, base = stripe_store
    order_id, token, _variant_id = _placed_order(app)
    with urllib.request.urlopen(f"{base}/orders/{token}/pay", timeout=10) as response:
        assert response.status == 200
    with app.app_context():
        reference = db.session.scalars(
            select(Payment.reference).where(Payment.order_id == order_id)
        ).one()
    _cancel_as_staff(app, order_id)

    client = stripe.StripeClient("sk_test_localstripe", base_addresses={"api": localstripe})
    assert client.v1.payment_intents.retrieve(reference).status == "canceled"
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    with pytest.raises(stripe.StripeError):  # the open pay page can take no money
        client.v1.payment_intents.confirm(reference, params={"payment_method": method.id})
    with app.app_context():
        found = db.session.get(Order, order_id)
        assert found.status == OrderStatus.CANCELLED and not found.review_reason


def test_a_payment_stripe_will_not_cancel_flags_the_cancelled_order(localstripe, stripe_store):
    """The intent was paid at Stripe before staff cancelled (its webhook not yet in):
    Stripe refuses to cancel it, so the order is flagged for staff to refund."""
    import stripe

    app, _base = stripe_store
    client = stripe.StripeClient("sk_test_localstripe", base_addresses={"api": localstripe})
    order_id, _token, _variant_id = _placed_order(app)
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
    _cancel_as_staff(app, order_id)

    with app.app_context():
        found = db.session.get(Order, order_id)
        assert found.status == OrderStatus.CANCELLED
        assert paid.id in found.review_reason and "refund" in found.review_reason
