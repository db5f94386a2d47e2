"""Payment gateways behind one interface, chosen by configuration.

`dummy` is a clearly marked test mode that pays on the store's own page.
`stripe` creates a PaymentIntent per order; payment is only ever confirmed by
the signed webhook. The Stripe key lives on a client object, not the module.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace
from typing import Any, Protocol

from flask import Flask, current_app
from flask_babel import gettext as _

DUMMY_PAYING_CARD = "4242424242424242"
DUMMY_DECLINED_CARD = "4000000000000002"


class GatewayError(RuntimeError):
    """The gateway refused or could not be reached; the message is safe to show."""


@dataclass(frozen=True)
class PaymentStart:
    reference: str
    client_secret: str = ""


# Refund statuses at the gateway. Only a succeeded refund is booked: a pending one
# may still fail or be canceled, and money that never went back is never booked.
REFUND_SUCCEEDED = "succeeded"
REFUND_FAILED_STATUSES = frozenset({"failed", "canceled"})
# Metadata the store puts on the refunds it asks for, so whichever of the webhook and
# the refund request books one first books it as the store planned it.
STORE_KEY, STORE_PLAN = "store_refund_key", "store_refund_plan"
REFUND_EVENTS = frozenset(
    {
        "charge.refunded",
        "charge.refund.updated",
        "refund.created",
        "refund.updated",
        "refund.failed",
    }
)


@dataclass(frozen=True)
class GatewayRefund:
    """One refund as the gateway tells it (a Stripe Refund object, reduced)."""

    id: str
    amount: int
    status: str
    store_key: str = ""
    store_plan: str = ""
    created: int = 0  # when the gateway made it (Unix seconds); 0 when not told

    @property
    def succeeded(self) -> bool:
        return self.status == REFUND_SUCCEEDED


@dataclass(frozen=True)
class GatewayEvent:
    """A verified event from a gateway, reduced to what the store needs."""

    id: str
    kind: str  # payment_succeeded | payment_failed | refunds_changed | ignored
    reference: str  # the payment reference (PaymentIntent id)
    amount: int = 0
    currency: str = ""
    failure: str = ""
    # refunds_changed: the refunds the event (or the API, see `with_current_refunds`)
    # names, or None when it names none; `refunds_complete` when they are all of the
    # payment's refunds; `refunded_total` is a charge's amount_refunded when known.
    refunds: tuple[GatewayRefund, ...] | None = None
    refunds_complete: bool = False
    refunded_total: int | None = None
    order_id: int | None = None


class Gateway(Protocol):
    name: str

    def start_payment(
        self, *, order_id: int, number: str, amount: int, currency: str
    ) -> PaymentStart: ...

    def cancel_payment(self, *, reference: str) -> bool: ...

    def refund(
        self, *, reference: str, amount: int, idempotency_key: str, metadata: dict[str, str]
    ) -> GatewayRefund: ...


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
                event_id, "payment_failed", reference, failure=_("Your card was declined.")
            )
        return GatewayEvent(
            event_id,
            "payment_failed",
            reference,
            failure=_(
                "This is the test mode: use 4242 4242 4242 4242 to pay, or 4000 0000 0000 0002 "
                "to see a decline."
            ),
        )

    def cancel_payment(self, *, reference: str) -> bool:
        return True  # no money moves in test mode: nothing to stop

    def refund(
        self, *, reference: str, amount: int, idempotency_key: str, metadata: dict[str, str]
    ) -> GatewayRefund:
        return GatewayRefund(
            f"dummy_re_{idempotency_key[:40]}", amount, REFUND_SUCCEEDED,
            metadata.get(STORE_KEY, ""), metadata.get(STORE_PLAN, ""), int(time.time()),
        )  # fmt: skip


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
            raise GatewayError(
                _("The payment service is not answering; please try again.")
            ) from exc
        return PaymentStart(reference=intent.id, client_secret=intent.client_secret or "")

    def cancel_payment(self, *, reference: str) -> bool:
        """Cancel a PaymentIntent so it can no longer be paid. True when it is canceled
        (now or before); False when Stripe will not cancel it (it succeeded, or is
        processing); GatewayError when Stripe does not answer. Call with no transaction
        open."""
        try:
            intent = self.client.v1.payment_intents.cancel(reference)
            return intent.status == "canceled"
        except self._stripe.InvalidRequestError:
            pass  # not cancelable in its state: ask which state
        except self._stripe.StripeError as exc:
            raise GatewayError(_("The payment service is not answering.")) from exc
        try:
            return self.client.v1.payment_intents.retrieve(reference).status == "canceled"
        except self._stripe.StripeError as exc:
            raise GatewayError(_("The payment service is not answering.")) from exc

    def refund(
        self, *, reference: str, amount: int, idempotency_key: str, metadata: dict[str, str]
    ) -> GatewayRefund:
        try:
            refund = self.client.v1.refunds.create(
                params={"payment_intent": reference, "amount": amount, "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            )
        except self._stripe.StripeError as exc:
            raise GatewayError(
                _("Stripe refused the refund: %(why)s",
                  why=exc.user_message or exc.__class__.__name__)
            ) from exc  # fmt: skip
        return _gateway_refund(refund.to_dict())

    def parse_webhook(self, payload: bytes, signature: str | None) -> GatewayEvent:
        """Verify the signature first; raise ValueError on a bad one, and MalformedEvent
        (a ValueError too) on a well-signed event that is not the shape Stripe sends."""
        if not self.webhook_secret:
            raise ValueError("no webhook secret configured")
        try:
            event = self.client.construct_event(payload, signature, self.webhook_secret)
        except (self._stripe.SignatureVerificationError, ValueError) as exc:
            raise ValueError("bad signature") from exc
        try:
            return _event(_text_id(event.id), event.type, event.data.object.to_dict())
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            # Signed, so Stripe's (or someone holding the secret), but not what Stripe
            # documents: refused as a whole, nothing read from it is used.
            raise MalformedEvent("a signed event of a shape Stripe does not send") from exc

    def with_current_refunds(self, event: GatewayEvent) -> GatewayEvent:
        """The event with all of its payment's refunds as the API lists them now.

        Since API version 2022-11-15 a charge no longer carries its refunds, and
        refund events can arrive late or out of order: the list is the truth. Called
        with no transaction open. When the API cannot be reached, the event is
        returned as it came (the refund it carries, or only the charge's total).
        """
        if event.kind != "refunds_changed" or not event.reference:
            return event
        try:
            listed = self.client.v1.refunds.list(
                params={"payment_intent": event.reference, "limit": 100}
            )
            refunds = tuple(_gateway_refund(r.to_dict()) for r in listed.auto_paging_iter())
        except (self._stripe.StripeError, ValueError, KeyError, TypeError):
            return event
        return replace(event, refunds=refunds, refunds_complete=True)


class MalformedEvent(ValueError):
    """A well-signed event whose content is not the shape the gateway documents."""


def _text_id(value: Any) -> str:
    """An object id as Stripe writes them (evt_…, pi_…, re_…): text of 1 to 100 characters."""
    if not isinstance(value, str) or not 0 < len(value) <= 100:
        raise ValueError("not an id")
    return value


def _amount(value: Any) -> int:
    """An amount in minor units: a whole number (not a flag, a text or a float)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ValueError("not an amount")
    return value


def _order_id(metadata: Any) -> int | None:
    """The store's order id from the metadata it wrote; metadata of another shape is refused."""
    if not isinstance(metadata, dict):
        raise ValueError("metadata is not an object")
    value = metadata.get("order_id")
    if value in (None, ""):
        return None
    text = str(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise ValueError("order_id is not a whole number")
    return int(text)


def _event(event_id: str, kind: str, obj: dict) -> GatewayEvent:
    order_id = _order_id(obj.get("metadata") or {})
    if kind == "payment_intent.succeeded":
        received = obj.get("amount_received")
        amount = _amount(received if received is not None else obj.get("amount"))
        currency = obj.get("currency") or ""
        if not isinstance(currency, str):
            raise ValueError("currency is not text")
        return GatewayEvent(event_id, "payment_succeeded", _text_id(obj["id"]), amount,
                            currency.upper(), order_id=order_id)  # fmt: skip
    if kind == "payment_intent.payment_failed":
        error = obj.get("last_payment_error") or {}
        message = error.get("message") if isinstance(error, dict) else None
        return GatewayEvent(
            event_id, "payment_failed", _text_id(obj["id"]),
            failure=message if isinstance(message, str) and message else "The payment was declined.",
            order_id=order_id,
        )  # fmt: skip
    if kind in REFUND_EVENTS:
        return _refund_event(event_id, kind, obj, order_id)
    return GatewayEvent(event_id, "ignored", "")


def _gateway_refund(obj: dict) -> GatewayRefund:
    metadata = obj.get("metadata") or {}
    refund_id = obj["id"]
    if not isinstance(refund_id, str) or not 0 < len(refund_id) <= 100:
        raise ValueError("not a refund id")
    return GatewayRefund(
        id=refund_id,
        amount=_amount(obj.get("amount")),
        status=str(obj.get("status") or ""),
        store_key=str(metadata.get(STORE_KEY) or "")[:100],
        store_plan=str(metadata.get(STORE_PLAN) or "")[:500],
        created=_unix_time(obj.get("created")),
    )


def _unix_time(value: Any) -> int:
    """A plausible Unix time in seconds, else 0 (not told)."""
    seconds = int(value or 0)
    return seconds if 0 < seconds < 2**33 else 0


def _payment_reference(value: Any) -> str:
    """The PaymentIntent a charge or refund belongs to: its id, or the expanded object's."""
    if value is None or value == "":
        return ""
    return _text_id(value["id"] if isinstance(value, dict) else value)


def _refund_event(event_id: str, kind: str, obj: dict, order_id: int | None) -> GatewayEvent:
    """`charge.refunded` carries a Charge (its `refunds` list only before API version
    2022-11-15, `amount_refunded` always); `refund.*` and `charge.refund.updated`
    carry one Refund object."""
    currency = str(obj.get("currency") or "").upper()
    if kind == "charge.refunded":
        listed = (obj.get("refunds") or {}).get("data")
        return GatewayEvent(
            event_id,
            "refunds_changed",
            _payment_reference(obj.get("payment_intent")),
            currency=currency,
            refunds=tuple(_gateway_refund(r) for r in listed) if listed else None,
            refunded_total=_amount(obj.get("amount_refunded")),
            order_id=order_id,
        )
    return GatewayEvent(
        event_id,
        "refunds_changed",
        _payment_reference(obj.get("payment_intent")),
        currency=currency,
        refunds=(_gateway_refund(obj),),
        order_id=order_id,
    )


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
