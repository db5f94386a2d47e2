"""What the buyer's order page and the receipt email tell besides the lines and totals:
when the order was placed and paid, how it was paid, how and where it is shipped.

One place for each fact, so the page, the HTML email and the text email say the same
thing the same way; the templates reach it through `receipt(order)`. Reads only the
order's own columns: no statement beyond the order page's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from shop.orders.checkout import shipping_label
from shop.orders.models import Order, OrderStatus, RefundStatus
from shop.orders.states import PAID_STATES
from shop.timeutil import as_utc

# How each gateway takes the money, in the buyer's words.
PAYMENT_METHODS = {
    "dummy": _l("Card (test mode: no money moved)"),
    "stripe": _l("Card, through Stripe"),
}
UNPAID = {
    OrderStatus.PENDING_PAYMENT: _l("Not paid yet"),
    OrderStatus.CANCELLED: _l("Not paid: the order was cancelled"),
    OrderStatus.EXPIRED: _l("Not paid: the order was not paid in time"),
}
PAID_REFUNDED = {
    RefundStatus.PARTIAL: _l("Paid, partly refunded"),
    RefundStatus.FULL: _l("Paid, refunded in full"),
}


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
        return str(UNPAID.get(order.status) or _("Not paid"))
    return str(PAID_REFUNDED.get(order.refund_status) or _("Paid"))


def receipt(order: Order) -> Receipt:
    return Receipt(
        placed_at=as_utc(order.created_at),
        paid_at=as_utc(order.paid_at) if order.paid_at else None,
        payment_method=str(PAYMENT_METHODS.get(order.gateway) or _("Card")),
        payment_status=payment_status(order),
        amount=order.total,
        shipping_method=shipping_label(order.shipping_method),
    )
