"""Shipping an order: once, with its tracking number, never again."""

from __future__ import annotations

from shop.orders.models import Order, OrderStatus
from shop.orders.states import IllegalTransition, transition

TRACKING_MAX = 80


class ShippingError(ValueError):
    """The order cannot be shipped as asked; nothing was changed."""


def ship_order(order: Order, tracking_number: str) -> None:
    """Mark a paid order shipped. The caller holds the order's row lock, commits,
    and sends the shipping notice after the commit (this runs once per order, so the
    notice goes once and the tracking number is never overwritten)."""
    tracking = (tracking_number or "").strip()
    if not tracking or len(tracking) > TRACKING_MAX:
        raise ShippingError(f"Enter the tracking number (at most {TRACKING_MAX} characters).")
    if order.status != OrderStatus.PAID:
        raise ShippingError(
            f"Order {order.number} is {order.status.label.lower()}: it cannot be shipped now."
        )
    try:
        transition(order, OrderStatus.FULFILLED)
    except IllegalTransition as exc:
        raise ShippingError(f"Order {order.number} cannot be shipped: {exc.why}.") from None
    order.tracking_number = tracking
