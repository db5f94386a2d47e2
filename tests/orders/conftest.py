from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db
from shop.orders import cart as carts
from shop.orders.checkout import BuyerDetails, place_order
from tests import factories as f
from tests.conftest import RequestIsolatingClient, rolled_back

WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture(scope="session")
def migrated_stripe_app(migrated_app, database_url, tmp_path_factory):
    """The same database, with the Stripe gateway configured (schema already migrated)."""
    application = create_app(
        config_for_tests(
            database_url,
            migrated_app.config["MEDIA_ROOT"],
            PAYMENT_GATEWAY="stripe",
            STRIPE_SECRET_KEY="sk_test_unused",
            STRIPE_PUBLISHABLE_KEY="pk_test_unused",
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            STRIPE_API_BASE="http://127.0.0.1:9",  # nothing listens: these tests never call out
        )
    )
    application.test_client_class = RequestIsolatingClient
    with application.app_context():
        db.session.session_factory.configure(join_transaction_mode="create_savepoint")
    return application


@pytest.fixture
def stripe_app(migrated_stripe_app):
    with rolled_back(migrated_stripe_app) as application:
        yield application


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A Stripe-Signature header, made the way Stripe makes it."""
    timestamp = timestamp or int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def stripe_event(event_id: str, kind: str, obj: dict) -> bytes:
    return json.dumps(
        {"id": event_id, "object": "event", "type": kind, "api_version": "2024-06-20",
         "created": int(time.time()), "data": {"object": obj}}
    ).encode()  # fmt: skip


def intent(reference: str, amount: int, currency: str = "usd", **extra) -> dict:
    return {"id": reference, "object": "payment_intent", "amount": amount, "amount_received": amount,
            "currency": currency, "metadata": {}, **extra}  # fmt: skip


BUYER = BuyerDetails(
    email="buyer@example.com", name="Ana Buyer", address_line1="1 Road", address_line2="",
    city="Lyon", postal_code="69001", country_code="FR", shipping_method="standard",
)  # fmt: skip


def stocked_variant(quantity: int = 10, price: int = 2400, makers: int = 2):
    w = f.workshop()
    p = f.product(w, price=price)
    variant = p.variants[0]
    people = [f.trainee(w) for _ in range(makers)]
    f.batch(variant, quantity=quantity, makers=[(t, i + 1) for i, t in enumerate(people)])
    return variant


def new_order(variants_quantities, gateway_name: str = "dummy"):
    session = {}
    carts.write(session, {v.id: q for v, q in variants_quantities})
    return place_order(session, BUYER, gateway_name=gateway_name, currency="USD")


def outcome_of(response) -> str:
    """What the webhook's job made of the event a response acknowledged (the job has run:
    the tests' queue runs jobs as soon as the request commits)."""
    from sqlalchemy import select

    from shop.orders.models import GatewayEvent

    body = response.get_json()
    assert response.status_code == 200 and body["received"], body
    if body["duplicate"]:
        return "duplicate: already handled"
    return db.session.scalar(
        select(GatewayEvent.outcome).where(GatewayEvent.event_id == body["event"])
    )
