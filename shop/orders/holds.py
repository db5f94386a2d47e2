"""Holds: units kept for an unpaid order while its buyer pays, how long, and giving them back.

How long (the rule, one place):
- an order holds its units for RESERVATION_MINUTES after it was placed;
- once its payment starts (the pay page creates the payment at the gateway), the hold
  lasts until PAYMENT_MINUTES after the order was placed: extended once, counted from
  the placing and not from the start, so starting a payment again (another tab, a
  reload, a declined card tried again) never adds time, and a hold that already ran
  out is never revived. No unpaid order holds stock longer than PAYMENT_MINUTES; one
  whose buyer never reached payment lets go after RESERVATION_MINUTES.

A hold that ran out still holds its units until something releases it (the worker's
periodic job, each minute; a checkout; adding to a cart), but buyers are told those units are there
(`lapsed_units`): a page (a GET) only reads, and the next write that needs the units
releases the whole order first.

Services flush and never commit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import exists, func, select, update

from shop.catalog.models import StockMovementKind
from shop.catalog.services import move_stock, register_lapsed_holds
from shop.extensions import db
from shop.jobs import periodic
from shop.orders.models import (
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    RefundStatus,
    Reservation,
    ReservationStatus,
)
from shop.orders.payment_cancel import cancel_started_payments
from shop.orders.states import transition
from shop.page_cache.version import register_lapsed_hold_count
from shop.timeutil import utcnow

_HOLDS = Reservation.__table__  # plain table columns: these run on every page view


def _lapsed(now):
    """A hold that ran out before `now` and still holds its units."""
    return (_HOLDS.c.status == ReservationStatus.HELD) & (_HOLDS.c.expires_at < now)


def lapsed_units(variant_id, now: datetime):
    """SQL: the units of `variant_id` (a column or value) held by holds that ran out
    before `now`; a correlated subquery, so listings count them in the same statement."""
    return (
        select(func.coalesce(func.sum(_HOLDS.c.quantity), 0))
        .where(_HOLDS.c.variant_id == variant_id, _lapsed(now))
        .correlate_except(_HOLDS)
        .scalar_subquery()
    )


def lapsed_hold_count(now):
    """SQL: how many holds ran out before `now` (what cached pages are keyed on)."""
    return select(func.count(_HOLDS.c.id)).where(_lapsed(now)).scalar_subquery()


def init_holds() -> None:
    """Tell the catalog (which shows stock but knows nothing of orders) how to count
    units whose hold ran out, the page cache when a hold running out changes them, and
    the worker to release them periodically."""
    register_lapsed_holds(lapsed_units)
    register_lapsed_hold_count(lapsed_hold_count)
    periodic("release_expired_holds", lambda: release_expired(utcnow()))


def hold_for_payment(order: Order, now: datetime) -> None:
    """Payment of `order` starts: its hold lasts until PAYMENT_MINUTES after it was
    placed, unless it ran out already (see the module's docstring)."""
    placed = order.created_at if order.created_at.tzinfo else order.created_at.replace(tzinfo=UTC)
    until = placed + timedelta(minutes=current_app.config["PAYMENT_MINUTES"])
    extended = db.session.execute(
        update(Order)
        .where(
            Order.id == order.id,
            Order.status == OrderStatus.PENDING_PAYMENT,
            Order.reserved_until >= now,
            Order.reserved_until < until,
        )
        .values(reserved_until=until)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not extended:
        return
    db.session.execute(
        update(Reservation)
        .where(
            Reservation.order_id == order.id,
            Reservation.status == ReservationStatus.HELD,
            Reservation.expires_at >= now,
        )
        .values(expires_at=until)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(order, ["reserved_until"])


def _release_holds(reservations: list[Reservation], reason: str) -> int:
    """Give back held units. Each hold is claimed with a conditional UPDATE, so two
    transactions (two checkouts sweeping, a sweep and a cancel) never release the
    same units twice; variants are taken in id order, as checkout takes them."""
    released = 0
    for reservation in sorted(reservations, key=lambda r: (r.variant_id, r.id)):
        claimed = db.session.execute(
            update(Reservation)
            .where(Reservation.id == reservation.id, Reservation.status == ReservationStatus.HELD)
            .values(status=ReservationStatus.RELEASED)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            move_stock(
                reservation.variant_id,
                reservation.quantity,
                StockMovementKind.RELEASE,
                reason=reason,
            )
            released += 1
    return released


# A payment that may still take money: any the gateway did not stop (FAILED). An unpaid
# order with one is never replaced by a new checkout (end_unpaid's keep_started_payments).
PAYMENT_STARTED = Payment.status != PaymentStatus.FAILED


def end_unpaid(
    order_ids: list[int],
    status: OrderStatus,
    reason: str,
    *,
    ran_out_before: datetime | None = None,
    keep_started_payments: bool = False,
) -> int:
    """Move unpaid orders to `status` and release every one of their holds, on every
    variant. The orders are locked first (in id order), so a payment arriving at the
    same moment either finds the order still pending with its holds, or ended; with
    `ran_out_before`, only orders whose hold still ran out once locked (a payment that
    started meanwhile may have extended it); with `keep_started_payments`, only orders
    with no payment started once locked (its money may be on its way: the order keeps
    its hold until its payment window ends). A payment the gateway stopped (FAILED: it
    can no longer take money) does not count as started."""
    if not order_ids:
        return 0
    query = select(Order).where(
        Order.id.in_(order_ids), Order.status == OrderStatus.PENDING_PAYMENT
    )
    if ran_out_before is not None:
        query = query.where(
            exists().where(
                Reservation.order_id == Order.id,
                Reservation.status == ReservationStatus.HELD,
                Reservation.expires_at < ran_out_before,
            )
        )
    orders = db.session.scalars(
        query.order_by(Order.id)
        .with_for_update()
        .execution_options(populate_existing=True)  # the status as locked, not as cached
    ).all()
    if keep_started_payments and orders:
        # Read after the locks: a payment recorded under an order's lock is seen here.
        paying = set(
            db.session.scalars(
                select(Payment.order_id).where(
                    Payment.order_id.in_([o.id for o in orders]), PAYMENT_STARTED
                )
            )
        )
        orders = [o for o in orders if o.id not in paying]
    if not orders:
        return 0
    held = db.session.scalars(
        select(Reservation).where(
            Reservation.order_id.in_([o.id for o in orders]),
            Reservation.status == ReservationStatus.HELD,
        )
    ).all()
    released = _release_holds(list(held), reason)
    for order in orders:
        transition(order, status)
    return released


def release_expired(now: datetime, variant_ids: list[int] | None = None) -> int:
    """Expire unpaid orders whose hold ran out and give back ALL their holds.

    `variant_ids` only chooses which orders to look at (those holding any of these
    variants); an order found is released whole, its holds on other variants too.
    Returns the number of holds released.
    """
    query = select(Reservation.order_id).where(
        Reservation.status == ReservationStatus.HELD, Reservation.expires_at < now
    )
    if variant_ids is not None:
        query = query.where(Reservation.variant_id.in_(variant_ids))
    order_ids = sorted(set(db.session.scalars(query)))
    return end_unpaid(order_ids, OrderStatus.EXPIRED, "reservation expired", ran_out_before=now)


def why_not_cancellable(order: Order) -> str | None:
    """Why the back office cannot cancel the order, as it says it, or None when it can:
    only an order waiting for payment is cancelled (a paid one is refunded)."""
    number, status = order.number, order.status
    if status == OrderStatus.PENDING_PAYMENT:
        return None
    if status == OrderStatus.CANCELLED:
        return _("Order %(number)s is cancelled already.", number=number)
    if status == OrderStatus.EXPIRED:
        return _(
            "Order %(number)s expired unpaid, so it is closed already: its held units went "
            "back on sale.",
            number=number,
        )
    if order.refund_status == RefundStatus.FULL:
        return _("Order %(number)s was paid and refunded in full: there is nothing to cancel.",
                 number=number)  # fmt: skip
    if status == OrderStatus.FULFILLED:
        return _("Order %(number)s was shipped, so it cannot be cancelled: refund it instead.",
                 number=number)  # fmt: skip
    return _("Order %(number)s is %(status)s, so it cannot be cancelled: refund it instead.",
             number=number, status=str(status.shown).lower())  # fmt: skip


def cancel_unpaid(order: Order) -> None:
    transition(order, OrderStatus.CANCELLED)
    cancel_started_payments(order)  # its pay page may still be open
    held = [r for r in order.reservations if r.status == ReservationStatus.HELD]
    _release_holds(held, "order cancelled")
