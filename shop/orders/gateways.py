"""Payment gateways behind one interface, chosen by configuration.

`dummy` is a clearly marked test mode that pays on the store's own page.
`stripe` creates a PaymentIntent per order; payment is only ever confirmed by
the signed webhook. The Stripe key lives on a client object, not the module.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, current_app

DUMMY_PAYING_CARD = "4242424242424242"
DUMMY_DECLINED_CARD = "4000000000000002"


class GatewayError(RuntimeError):
    """The gateway refused or could not be reached; the message is safe to show."""


@dataclass(frozen=True)
class PaymentStart:
    reference: str
    client_secret: str = ""


@dataclass(frozen=True)
class GatewayEvent:
    """A verified event from a gateway, reduced to what the store needs."""

    id: str
    kind: str  # payment_succeeded | payment_failed | refunded | ignored
    reference: str  # the payment reference (PaymentIntent id)
    amount: int = 0
    currency: str = ""
    failure: str = ""
    refunds: tuple[tuple[str, int], ...] = ()  # (refund id, amount)
    order_id: int | None = None


class Gateway(Protocol):
    name: str

    def start_payment(
        self, *, order_id: int, number: str, amount: int, currency: str
    ) -> PaymentStart: ...

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> str: ...


class DummyGateway:
    """Test mode: no money moves. 4242… pays, 4000 0000 0000 0002 is declined."""

    name = "dummy"

    def start_payment(
        self, *, order_id: int, number: str, amount: int, currency: str
    ) -> PaymentStart:
        return PaymentStart(reference=f"dummy_pi_{secrets.token_hex(8)}")

    def charge(
        self, *, reference: str, card_number: str, amount: int, currency: str
    ) -> GatewayEvent:
        digits = "".join(ch for ch in card_number if ch.isdigit())
        event_id = f"dummy_evt_{secrets.token_hex(8)}"
        if digits == DUMMY_PAYING_CARD:
            return GatewayEvent(event_id, "payment_succeeded", reference, amount, currency)
        if digits == DUMMY_DECLINED_CARD:
            return GatewayEvent(
                event_id, "payment_failed", reference, failure="Your card was declined."
            )
        return GatewayEvent(
            event_id,
            "payment_failed",
            reference,
            failure="This is the test mode: use 4242 4242 4242 4242 to pay, or 4000 0000 0000 0002 to see a decline.",
        )

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> str:
        return f"dummy_re_{idempotency_key[:24]}"


class StripeGateway:
    name = "stripe"

    def __init__(self, secret_key: str, webhook_secret: str, api_base: str = ""):
        import stripe

        if not secret_key:
            raise RuntimeError("PAYMENT_GATEWAY=stripe needs STRIPE_SECRET_KEY")
        options: dict[str, Any] = {}
        if api_base:
            options["base_addresses"] = {"api": api_base}
        self._stripe = stripe
        self.client = stripe.StripeClient(secret_key, **options)
        self.webhook_secret = webhook_secret

    def start_payment(
        self, *, order_id: int, number: str, amount: int, currency: str
    ) -> PaymentStart:
        try:
            intent = self.client.v1.payment_intents.create(
                params={
                    "amount": amount,
                    "currency": currency.lower(),
                    "metadata": {"order_id": str(order_id), "order_number": number},
                },
                options={"idempotency_key": f"order-{order_id}-pi"},
            )
        except self._stripe.StripeError as exc:
            raise GatewayError("The payment service is not answering; please try again.") from exc
        return PaymentStart(reference=intent.id, client_secret=intent.client_secret or "")

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> str:
        try:
            refund = self.client.v1.refunds.create(
                params={"payment_intent": reference, "amount": amount},
                options={"idempotency_key": idempotency_key},
            )
        except self._stripe.StripeError as exc:
            raise GatewayError(
                f"Stripe refused the refund: {exc.user_message or exc.__class__.__name__}"
            ) from exc
        return refund.id

    def parse_webhook(self, payload: bytes, signature: str | None) -> GatewayEvent:
        """Verify the signature first; raise ValueError on a bad one."""
        if not self.webhook_secret:
            raise ValueError("no webhook secret configured")
        try:
            event = self.client.construct_event(payload, signature, self.webhook_secret)
        except (self._stripe.SignatureVerificationError, ValueError) as exc:
            raise ValueError("bad signature") from exc
        obj = event.data.object.to_dict()
        metadata = obj.get("metadata") or {}
        order_id = metadata.get("order_id")
        order_id = int(order_id) if order_id and str(order_id).isdigit() else None
        if event.type == "payment_intent.succeeded":
            received = obj.get("amount_received") or obj.get("amount") or 0
            return GatewayEvent(
                event.id, "payment_succeeded", obj["id"], int(received), str(obj.get("currency", "")).upper(),
                order_id=order_id,
            )  # fmt: skip
        if event.type == "payment_intent.payment_failed":
            error = obj.get("last_payment_error") or {}
            message = error.get("message") if hasattr(error, "get") else None
            return GatewayEvent(
                event.id, "payment_failed", obj["id"], failure=message or "The payment was declined.",
                order_id=order_id,
            )  # fmt: skip
        if event.type == "charge.refunded":
            refunds = (obj.get("refunds") or {}).get("data") or []
            return GatewayEvent(
                event.id,
                "refunded",
                obj.get("payment_intent") or "",
                amount=int(obj.get("amount_refunded") or 0),
                currency=str(obj.get("currency", "")).upper(),
                refunds=tuple((r["id"], int(r["amount"])) for r in refunds),
                order_id=order_id,
            )
        return GatewayEvent(event.id, "ignored", "")


def init_gateways(app: Flask) -> None:
    """One gateway object per app, built from its configuration."""
    if app.config.get("PAYMENT_GATEWAY", "dummy") == "stripe":
        gateway: Gateway = StripeGateway(
            app.config.get("STRIPE_SECRET_KEY", ""),
            app.config.get("STRIPE_WEBHOOK_SECRET", ""),
            app.config.get("STRIPE_API_BASE", ""),
        )
    else:
        gateway = DummyGateway()
    app.extensions["payment_gateway"] = gateway


def gateway() -> Gateway:
    return current_app.extensions["payment_gateway"]
