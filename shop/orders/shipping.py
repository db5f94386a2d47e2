"""Shipping an order: once, with its tracking number, never again; one order or several."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select

from shop.audit.services import record, snapshot
from shop.extensions import db
from shop.orders.models import Order, OrderStatus, RefundStatus
from shop.orders.notifications import shipping_notice_after_commit
from shop.orders.states import IllegalTransition, transition

TRACKING_MAX = 80
MAX_SHIPPED_AT_ONCE = 100  # a few pages of the orders list; more is a mistake


class ShippingError(ValueError):
    """The order cannot be shipped as asked; nothing was changed."""


# Orders that were shipped: their parcel is packed, so their packing slip may be printed again.
SHIPPED_STATES = frozenset({OrderStatus.FULFILLED, OrderStatus.COMPLETED})


def why_not_shippable(order: Order) -> str | None:
    """Why the order cannot be shipped now, as the back office says it, or None when it
    can: the one rule for the order page's Ship form, bulk shipping and packing slips."""
    if order.status == OrderStatus.PAID and order.refund_status == RefundStatus.FULL:
        return _refunded_in_full(order)
    if order.status != OrderStatus.PAID:
        return _(
            "Order %(number)s is %(status)s: it cannot be shipped now.",
            number=order.number,
            status=str(order.status.shown).lower(),
        )
    return None


def _refunded_in_full(order: Order) -> str:
    return _(
        "Order %(number)s was refunded in full, so there is nothing to ship.", number=order.number
    )


def why_no_packing_slip(order: Order) -> str | None:
    """Why no packing slip is printed for the order, or None when it has something to ship:
    one that can ship, or one shipped already (a slip printed again). The reasons are
    bulk shipping's (`why_not_shippable`), word for word."""
    if order.status in SHIPPED_STATES:
        return _refunded_in_full(order) if order.refund_status == RefundStatus.FULL else None
    return why_not_shippable(order)


def ship_order(order: Order, tracking_number: str) -> None:
    """Mark a paid order shipped. The caller holds the order's row lock, commits,
    and sends the shipping notice after the commit (this runs once per order, so the
    notice goes once and the tracking number is never overwritten)."""
    tracking = (tracking_number or "").strip()
    if not tracking or len(tracking) > TRACKING_MAX:
        raise ShippingError(
            _("Enter the tracking number (at most %(most)s characters).", most=TRACKING_MAX)
        )
    problem = why_not_shippable(order)
    if problem:
        raise ShippingError(problem)
    try:
        transition(order, OrderStatus.FULFILLED)
    except IllegalTransition as exc:
        raise ShippingError(
            _("Order %(number)s cannot be shipped: %(why)s.", number=order.number, why=exc.why)
        ) from None
    order.tracking_number = tracking


def ship_and_tell(order: Order, tracking_number: str) -> None:
    """Ship one locked order, write it in the audit log and queue the buyer's shipping
    notice (sent after the commit): what the back office does for every order it ships,
    alone or with others."""
    before = snapshot(order, ["status", "tracking_number"])
    ship_order(order, tracking_number)
    record("order.ship", "order", order.id, summary=f"Order {order.number} shipped",
           before=before, after=snapshot(order, ["status", "tracking_number"]))  # fmt: skip
    shipping_notice_after_commit(order.id)


@dataclass
class ShippedTogether:
    shipped: list[str] = field(default_factory=list)  # order numbers
    refused: list[str] = field(default_factory=list)  # why, one message per order


def ship_several(tracking_by_order: dict[int, str]) -> ShippedTogether:
    """Ship each of several orders on its own: an order that cannot ship (shipped,
    refunded or cancelled since the list was read) is refused with the reason and
    changes nothing, and the others are shipped. Not all-or-nothing, because the
    parcels are real: the ones handed to the carrier are shipped whatever became of
    another order, and refusing them all would leave them unrecorded and their buyers
    untold. Each order is shipped inside a savepoint, so a refused one is never half
    written (status without tracking number, notice without shipping). The orders are
    locked in id order (as releasing several holds locks them), so two admins shipping
    overlapping selections wait for each other instead of deadlocking."""
    result = ShippedTogether()
    orders = db.session.scalars(
        select(Order)
        .where(Order.id.in_(sorted(tracking_by_order)))
        .order_by(Order.id)
        .with_for_update(of=Order)
        .execution_options(populate_existing=True)
    ).all()
    found = {order.id for order in orders}
    result.refused += [f"There is no order #{i}." for i in tracking_by_order if i not in found]
    for order in orders:
        try:
            with db.session.begin_nested():
                ship_and_tell(order, tracking_by_order[order.id])
        except ShippingError as exc:
            result.refused.append(str(exc))
        else:
            result.shipped.append(order.number)
    return result
