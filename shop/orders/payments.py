"""Paying for orders: payments started at the gateway, events recorded once,
an order marked paid exactly once with its units traced to batches."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shop.catalog.models import StockMovementKind
from shop.catalog.services import move_stock
from shop.extensions import db
from shop.money import apply_bps, money_text
from shop.orders import signals
from shop.orders.holds import end_unpaid, hold_for_payment
from shop.orders.models import (
    GatewayEvent,
    LineAllocation,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Reservation,
    ReservationStatus,
)
from shop.orders.payment_cancel import cancel_started_payments
from shop.orders.states import transition
from shop.provenance.batch_units import BatchUnits, sell_held_units
from shop.provenance.models import Workshop, WorkshopStatus
from shop.timeutil import utcnow


class PaymentRefused(Exception):
    """The order can no longer be paid for; the message is for the buyer."""


def suspended_lines(order: Order) -> list:
    """The order's lines whose workshop is suspended now (its products may not be sold)."""
    workshop_ids = {line.workshop_id for line in order.lines}
    suspended = set(
        db.session.scalars(
            select(Workshop.id).where(
                Workshop.id.in_(workshop_ids), Workshop.status == WorkshopStatus.SUSPENDED
            )
        )
    )
    return [line for line in order.lines if line.workshop_id in suspended]


def refuse_unsellable(order: Order) -> None:
    """Payment starts only while every line may still be sold: an order placed before a
    line's workshop was suspended is cancelled instead, its holds (every variant's) go
    back, and PaymentRefused tells the buyer. The caller holds the order's lock and
    commits the cancellation although it refuses."""
    lines = suspended_lines(order)
    if not lines:
        return
    end_unpaid([order.id], OrderStatus.CANCELLED, "workshop suspended")
    cancel_started_payments(order)  # a pay page opened before may still be open
    names = ", ".join(sorted({line.product_name for line in lines}))
    raise PaymentRefused(
        _(
            "Sorry: %(products)s can no longer be bought, so order %(number)s was cancelled "
            "before any payment was taken. Nothing was charged; the other items are back in "
            "the shop if you would like to order them again.",
            products=names,
            number=order.number,
        )
    )


def pending_payment(order: Order) -> Payment | None:
    return next((p for p in order.payments if p.status == PaymentStatus.PENDING), None)


def start_payment(order: Order, gateway) -> Payment:
    """The order's pending payment, created at the gateway on first use.

    For gateways that answer at once (dummy). The Stripe pay page calls Stripe with
    no transaction open and then `record_started_payment`, so no lock waits on Stripe.
    """
    existing = pending_payment(order)
    if existing is not None:
        return existing
    started = gateway.start_payment(
        order_id=order.id, number=order.number, amount=order.total, currency=order.currency
    )
    return record_started_payment(order, gateway.name, started)


def record_started_payment(order: Order, gateway_name: str, started) -> Payment:
    """Keep what the gateway answered; another tab may have kept the same one already.

    The order's first payment started: its hold is extended to the payment window, once
    (shop.orders.holds)."""
    existing = pending_payment(order)
    if existing is not None and existing.reference == started.reference:
        return existing
    if not order.payments:
        hold_for_payment(order, utcnow())
    payment = Payment(
        order=order,
        gateway=gateway_name,
        reference=started.reference,
        amount=order.total,
        currency=order.currency,
        client_secret=started.client_secret,
    )
    db.session.add(payment)
    db.session.flush()
    return payment


def record_event(gateway_name: str, event_id: str, kind: str) -> GatewayEvent | None:
    """Store the event id; None when it was seen before (nothing more to do)."""
    savepoint = db.session.begin_nested()
    row = GatewayEvent(gateway=gateway_name, event_id=event_id, kind=kind)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:  # the unique key says: seen before
        savepoint.rollback()
        return None
    savepoint.commit()
    return row


def _sell_order_units(order: Order) -> dict[int, BatchUnits]:
    """The order's held units leave the shelf; returns, per variant, the batch units
    sold (first in, first out, the same rule as a write-off: shop.provenance.batch_units).

    Variants are taken in id order, as checkout takes them, so the two never deadlock.
    """
    held = dict(
        db.session.execute(
            update(Reservation)
            .where(Reservation.order_id == order.id, Reservation.status == ReservationStatus.HELD)
            .values(status=ReservationStatus.CONSUMED)
            .returning(Reservation.variant_id, Reservation.quantity)
            .execution_options(synchronize_session=False)
        ).all()
    )
    sold: dict[int, BatchUnits] = {}
    for line in sorted(order.lines, key=lambda line: line.variant_id):
        if held.get(line.variant_id) != line.quantity:
            # A hold lost before on-hand and held were kept apart: hold the units now.
            move_stock(line.variant_id, -line.quantity, StockMovementKind.RESERVATION,
                       reason=order.number)  # fmt: skip
        sold[line.variant_id] = sell_held_units(line.variant_id, line.quantity, order.number)
    return sold


def payment_succeeded(
    order: Order,
    *,
    gateway_name: str,
    reference: str,
    amount: int,
    currency: str,
    payment: Payment | None = None,
) -> str:
    """Mark the order paid, once. The dummy gateway and the webhook both come here."""
    if order.status != OrderStatus.PENDING_PAYMENT:
        if order.status == OrderStatus.EXPIRED or order.status == OrderStatus.CANCELLED:
            _money_taken(order, reference, payment)
            order.review_reason = (f"A payment of {money_text(amount, currency)} ({reference}) "
                                   f"arrived after the order was {order.status}: refund "
                                   "it.")  # fmt: skip
            return "flagged: paid after it ended"
        return f"ignored: already {order.status}"
    if suspended_lines(order):
        # Paid on a page opened before the workshop was suspended: not sold, no maker
        # credited; the order ends as payment start would have ended it, and staff
        # decide about the money (refund it at the gateway).
        end_unpaid([order.id], OrderStatus.CANCELLED, "workshop suspended")
        _money_taken(order, reference, payment)
        order.review_reason = (f"A payment of {money_text(amount, currency)} ({reference}) "
                               "arrived after a workshop of this order was suspended; the "
                               "order was cancelled, not sold: refund the payment.")  # fmt: skip
        return "flagged: a workshop was suspended"
    if amount != order.total or currency.upper() != order.currency:
        order.review_reason = (f"Payment {reference} was {money_text(amount, currency)}, but the "
                               f"order is {money_text(order.total, order.currency)}.")  # fmt: skip
        return "flagged: amount mismatch"
    transition(order, OrderStatus.PAID)
    order.paid_at = utcnow()
    order.last_payment_error = ""
    sold = _sell_order_units(order)
    if payment is None:
        payment = next((p for p in order.payments if p.reference == reference), None)
    if payment is None:
        payment = Payment(
            order=order, gateway=gateway_name, reference=reference, amount=amount, currency=currency
        )
        db.session.add(payment)
    payment.status = PaymentStatus.SUCCEEDED
    paid_lines = []
    for line in order.lines:
        allocations = [
            LineAllocation(line=line, batch_id=batch_id, quantity=units)
            for batch_id, units in sold[line.variant_id]
        ]
        db.session.add_all(allocations)
        paid_lines.append(
            signals.PaidLine(
                line_id=line.id,
                workshop_id=line.workshop_id,
                product_name=line.product_name,
                line_total=line.line_total,
                impact_share_bps=line.impact_share_bps,
                share=apply_bps(line.line_total, line.impact_share_bps),
                allocations=tuple(signals.BatchShare(a.batch_id, a.quantity) for a in allocations),
            )
        )
    db.session.flush()
    signals.order_paid.send(
        current_app._get_current_object(),
        event=signals.PaidOrder(order.id, order.currency, tuple(paid_lines)),
    )
    return "paid"


def _money_taken(order: Order, reference: str, payment: Payment | None) -> None:
    """A payment that took money for an order that sells nothing: recorded as succeeded
    (it did), so staff can refund it through the store's one refund service."""
    payment = payment or next((p for p in order.payments if p.reference == reference), None)
    if payment is not None:
        payment.status = PaymentStatus.SUCCEEDED


def payment_failed(order: Order, *, reason: str) -> str:
    if order.status != OrderStatus.PENDING_PAYMENT:
        return f"ignored: already {order.status}"  # a failure after success never un-pays
    order.last_payment_error = reason[:500]
    return "failure recorded"


def succeeded_payment(order: Order) -> Payment | None:
    return next((p for p in order.payments if p.status == PaymentStatus.SUCCEEDED), None)
