"""What the buyer's order page and the receipt email tell besides the lines and totals:
when the order was placed and paid, how it was paid, how and where it is shipped.

One place for each fact, so the page, the HTML email and the text email say the same
thing the same way; the templates reach it through `receipt(order)`. Reads only the
order's own columns: no statement beyond the order page's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shop.orders.checkout import shipping_label
from shop.orders.models import Order, OrderStatus, RefundStatus
from shop.orders.states import PAID_STATES
from shop.timeutil import as_utc

# How each gateway takes the money, in the buyer's words.
PAYMENT_METHODS = {
    "dummy": "Card (test mode: no money moved)",
    "stripe": "Card, through Stripe",
}
UNPAID = {
    OrderStatus.PENDING_PAYMENT: "Not paid yet",
    OrderStatus.CANCELLED: "Not paid: the order was cancelled",
    OrderStatus.EXPIRED: "Not paid: the order was not paid in time",
}
REFUNDED = {RefundStatus.PARTIAL: "partly refunded", RefundStatus.FULL: "refunded in full"}


@dataclass(frozen=True)
class Receipt:
    placed_at: datetime
    paid_at: datetime | None
    payment_method: str
    payment_status: str  # "Paid", "Paid, partly refunded", "Not paid yet"...
    amount: int  # what the order costs (its total), in the order's currency
    shipping_method: str


def payment_status(order: Order) -> str:
    if order.status not in PAID_STATES:
        return UNPAID.get(order.status, "Not paid")
    refunded = REFUNDED.get(order.refund_status)
    return f"Paid, {refunded}" if refunded else "Paid"


def receipt(order: Order) -> Receipt:
    return Receipt(
        placed_at=as_utc(order.created_at),
        paid_at=as_utc(order.paid_at) if order.paid_at else None,
        payment_method=PAYMENT_METHODS.get(order.gateway, "Card"),
        payment_status=payment_status(order),
        amount=order.total,
        shipping_method=shipping_label(order.shipping_method),
    )
