"""Order rules: placing, expiring, paying and refunding. Services flush and
never commit; the request or command commits once, and sends email after."""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import distinct, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from shop.catalog.models import StockMovement, StockMovementKind, Variant
from shop.catalog.services import move_stock, take_stock
from shop.extensions import db
from shop.money import allocate, apply_bps
from shop.orders import cart as carts
from shop.orders import signals
from shop.orders.models import (
    GatewayEvent,
    LineAllocation,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundLine,
    Reservation,
    ReservationStatus,
)
from shop.orders.states import PAID_STATES, transition
from shop.provenance.models import Batch, BatchMaker, Workshop
from shop.timeutil import utcnow

NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L


class CheckoutError(ValueError):
    """The order cannot be placed as it stands; the message is for the buyer."""


class RefundError(ValueError):
    """The refund asked for is not possible; nothing was changed."""


@dataclass(frozen=True)
class ShippingMethod:
    code: str
    label: str
    price: int


@dataclass(frozen=True)
class BuyerDetails:
    email: str
    name: str
    address_line1: str
    address_line2: str
    city: str
    postal_code: str
    country_code: str
    shipping_method: str


def shipping_methods() -> list[ShippingMethod]:
    """From SHIPPING_RATES: 'code:Label:cents,…'."""
    methods = []
    for item in current_app.config["SHIPPING_RATES"].split(","):
        code, label, cents = item.split(":")
        methods.append(ShippingMethod(code.strip(), label.strip(), int(cents)))
    return methods


def new_order_number() -> str:
    return "MK-" + "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))


def release_expired(now: datetime, variant_ids: list[int] | None = None) -> int:
    """Give back the stock of reservations that ran out; expire their orders.

    Each reservation is claimed with a conditional UPDATE, so two checkouts
    sweeping at once can never release the same units twice.
    """
    query = select(Reservation).where(
        Reservation.status == ReservationStatus.HELD, Reservation.expires_at < now
    )
    if variant_ids is not None:
        query = query.where(Reservation.variant_id.in_(variant_ids))
    expired = db.session.scalars(query.order_by(Reservation.variant_id, Reservation.id)).all()
    released = 0
    for reservation in expired:
        claimed = db.session.execute(
            update(Reservation)
            .where(Reservation.id == reservation.id, Reservation.status == ReservationStatus.HELD)
            .values(status=ReservationStatus.RELEASED)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            continue
        variant = db.session.get(Variant, reservation.variant_id)
        move_stock(
            variant, reservation.quantity, StockMovementKind.RELEASE, reason="reservation expired"
        )
        order = db.session.get(Order, reservation.order_id)
        if order.status == OrderStatus.PENDING_PAYMENT:
            transition(order, OrderStatus.EXPIRED)
        released += 1
    return released


def place_order(
    cart: MutableMapping,
    buyer: BuyerDetails,
    *,
    gateway_name: str,
    currency: str,
    now: datetime | None = None,
    user_id: int | None = None,
) -> Order:
    """Create a pending order from the session cart and reserve its stock.

    Holds that ran out on these variants are released first, so the stock they
    kept back is there to be sold again.
    """
    now = now or utcnow()
    release_expired(now, sorted(carts.read(cart)))
    priced = carts.price(cart, currency)
    if priced.is_empty:
        raise CheckoutError("Your cart is empty.")
    if priced.problems:
        raise CheckoutError(" ".join(priced.problems))
    method = next((m for m in shipping_methods() if m.code == buyer.shipping_method), None)
    if method is None:
        raise CheckoutError("Please choose a shipping method.")
    if {line.currency for line in priced.lines} != {priced.currency}:
        raise CheckoutError("Your cart mixes currencies; please contact us.")

    variant_ids = sorted(line.variant_id for line in priced.lines)
    minutes = current_app.config["RESERVATION_MINUTES"]
    order = Order(
        user_id=user_id,
        number=new_order_number(),
        token=secrets.token_urlsafe(32),
        email=buyer.email,
        name=buyer.name,
        address_line1=buyer.address_line1,
        address_line2=buyer.address_line2,
        city=buyer.city,
        postal_code=buyer.postal_code,
        country_code=buyer.country_code,
        shipping_method=method.code,
        currency=priced.currency,
        subtotal=priced.subtotal,
        shipping=method.price,
        total=priced.subtotal + method.price,
        gateway=gateway_name,
        reserved_until=now + timedelta(minutes=minutes),
    )
    db.session.add(order)
    db.session.flush()
    # Take stock in variant-id order, so concurrent checkouts never deadlock.
    by_variant = {line.variant_id: line for line in priced.lines}
    movements, reservations = [], []
    for variant_id in variant_ids:
        line = by_variant[variant_id]
        stock_after = take_stock(variant_id, -line.quantity)
        if stock_after is None:
            available = (
                db.session.scalar(select(Variant.stock).where(Variant.id == variant_id)) or 0
            )
            if available == 0:
                raise CheckoutError(f"Sorry, {line.product_name} has just sold out.")
            raise CheckoutError(
                f"Sorry, only {available} of {line.product_name} left; please lower the quantity."
            )
        movements.append(
            {"variant_id": variant_id, "quantity": -line.quantity, "kind": StockMovementKind.RESERVATION,
             "reason": order.number, "stock_after": stock_after, "batch_id": None, "created_at": now}
        )  # fmt: skip
        reservations.append(
            {"order_id": order.id, "variant_id": variant_id, "quantity": line.quantity,
             "status": ReservationStatus.HELD, "expires_at": order.reserved_until}
        )  # fmt: skip
    # One statement each, whatever the size of the cart.
    db.session.execute(
        insert(OrderLine),
        [
            {"order_id": order.id, "variant_id": line.variant_id, "product_name": line.product_name,
             "options_label": line.options_label, "sku": line.sku, "unit_price": line.unit_price,
             "quantity": line.quantity, "line_total": line.line_total,
             "impact_share_bps": line.impact_share_bps, "workshop_id": line.workshop_id,
             "refunded_amount": 0}
            for line in priced.lines
        ],
    )  # fmt: skip
    db.session.execute(insert(StockMovement), movements)
    db.session.execute(insert(Reservation), reservations)
    return order


TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,64}")


def looks_like_token(token: str) -> bool:
    """Only what token_urlsafe makes reaches the database."""
    return bool(token) and TOKEN_RE.fullmatch(token) is not None


def order_by_token(token: str, *, for_payment: bool = False) -> Order | None:
    """The order behind a guest's link, with its lines; locked, with its
    payments, when it is about to be paid."""
    if not looks_like_token(token):
        return None
    query = select(Order).where(Order.token == token).options(selectinload(Order.lines))
    if for_payment:
        query = query.options(selectinload(Order.payments)).with_for_update()
    return db.session.scalars(query).one_or_none()


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
    """Keep what the gateway answered; another tab may have kept the same one already."""
    existing = pending_payment(order)
    if existing is not None and existing.reference == started.reference:
        return existing
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


def _allocate_batches(line: OrderLine) -> list[LineAllocation]:
    """Trace a paid line's units to batches, oldest first (first in, first out)."""
    needed = line.quantity
    allocations = []
    batches = db.session.scalars(
        select(Batch)
        .where(Batch.variant_id == line.variant_id, Batch.units_allocated < Batch.quantity)
        .order_by(Batch.produced_month, Batch.id)
        .with_for_update()
    ).all()
    for batch in batches:
        if needed == 0:
            break
        take = min(needed, batch.quantity - batch.units_allocated)
        batch.units_allocated += take
        allocations.append(LineAllocation(line=line, batch_id=batch.id, quantity=take))
        needed -= take
    if needed:
        allocations.append(LineAllocation(line=line, batch_id=None, quantity=needed))
    return allocations


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
            order.review_reason = f"A payment of {amount} {currency} ({reference}) arrived after the order was {order.status}."
            return "flagged: paid after it ended"
        return f"ignored: already {order.status}"
    if amount != order.total or currency.upper() != order.currency:
        order.review_reason = f"Payment {reference} was {amount} {currency.upper()}, but the order is {order.total} {order.currency}."
        return "flagged: amount mismatch"
    transition(order, OrderStatus.PAID)
    order.paid_at = utcnow()
    order.last_payment_error = ""
    db.session.execute(
        update(Reservation)
        .where(Reservation.order_id == order.id, Reservation.status == ReservationStatus.HELD)
        .values(status=ReservationStatus.CONSUMED)
        .execution_options(synchronize_session=False)
    )
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
        allocations = _allocate_batches(line)
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


def payment_failed(order: Order, *, reason: str) -> str:
    if order.status != OrderStatus.PENDING_PAYMENT:
        return f"ignored: already {order.status}"  # a failure after success never un-pays
    order.last_payment_error = reason[:500]
    return "failure recorded"


def cancel_unpaid(order: Order) -> None:
    transition(order, OrderStatus.CANCELLED)
    _release_held(order, "order cancelled")


def _release_held(order: Order, reason: str) -> None:
    for reservation in order.reservations:
        if reservation.status == ReservationStatus.HELD:
            reservation.status = ReservationStatus.RELEASED
            move_stock(
                db.session.get(Variant, reservation.variant_id),
                reservation.quantity,
                StockMovementKind.RELEASE,
                reason=reason,
            )


def refund_plan(
    order: Order, line_amounts: dict[int, int] | None, include_shipping: bool
) -> tuple[dict[int, int], int]:
    """Check a refund request; return (amount per line id, shipping amount)."""
    if order.status not in PAID_STATES:
        raise RefundError(
            f"Order {order.number} is {order.status.label.lower()}; only paid orders can be refunded."
        )
    lines = {line.id: line for line in order.lines}
    if line_amounts is None:  # everything still refundable
        line_amounts = {lid: line.line_total - line.refunded_amount for lid, line in lines.items()}
        include_shipping = True
    plan = {}
    for line_id, amount in line_amounts.items():
        line = lines.get(line_id)
        if line is None:
            raise RefundError("That line is not part of this order.")
        if amount < 0:
            raise RefundError("A refund cannot be negative.")
        remaining = line.line_total - line.refunded_amount
        if amount > remaining:
            raise RefundError(
                f"{line.product_name}: at most {remaining} can still be refunded, not {amount}."
            )
        if amount:
            plan[line_id] = amount
    lines_refunded = sum(line.refunded_amount for line in lines.values())
    shipping_refunded = order.refunded_amount - lines_refunded
    shipping = order.shipping - shipping_refunded if include_shipping else 0
    if not plan and not shipping:
        raise RefundError("There is nothing left to refund.")
    return plan, shipping


def record_refund(
    order: Order,
    plan: dict[int, int],
    shipping: int,
    *,
    reference: str,
    idempotency_key: str,
    reason: str = "",
) -> Refund:
    """Book a refund the gateway already made, and announce each line once."""
    amount = sum(plan.values()) + shipping
    refund = Refund(
        order=order,
        amount=amount,
        currency=order.currency,
        gateway=order.gateway,
        reference=reference,
        idempotency_key=idempotency_key,
        reason=reason,
        lines=[RefundLine(line_id=lid, amount=amt) for lid, amt in plan.items()],
    )
    db.session.add(refund)
    lines = {line.id: line for line in order.lines}
    for line_id, line_amount in plan.items():
        lines[line_id].refunded_amount += line_amount
    order.refunded_amount += amount
    transition(
        order,
        OrderStatus.REFUNDED
        if order.refunded_amount == order.total
        else OrderStatus.PARTIALLY_REFUNDED,
    )
    db.session.flush()
    for line_id, line_amount in plan.items():
        line = lines[line_id]
        signals.order_line_refunded.send(
            current_app._get_current_object(),
            event=signals.RefundedLine(
                order_id=order.id,
                line_id=line_id,
                refund_id=refund.id,
                amount=line_amount,
                refunded_total=line.refunded_amount,
                line_total=line.line_total,
                currency=order.currency,
            ),
        )
    return refund


def succeeded_payment(order: Order) -> Payment | None:
    return next((p for p in order.payments if p.status == PaymentStatus.SUCCEEDED), None)


def refund_order(
    order: Order,
    gateway,
    *,
    line_amounts: dict[int, int] | None = None,
    include_shipping: bool = False,
    idempotency_key: str | None = None,
    reason: str = "",
) -> Refund:
    """Refund through the gateway that took the payment, then book it.

    The gateway is asked with an idempotency key, so the same request twice
    refunds once there; here the key is unique, so it is booked once too.
    """
    key = idempotency_key or f"refund-{order.id}-{secrets.token_hex(8)}"
    existing = db.session.scalars(select(Refund).where(Refund.idempotency_key == key)).one_or_none()
    if existing is not None:
        return existing
    plan, shipping = refund_plan(order, line_amounts, include_shipping)
    payment = succeeded_payment(order)
    if payment is None:
        raise RefundError("No successful payment is recorded for this order.")
    reference = gateway.refund(
        reference=payment.reference, amount=sum(plan.values()) + shipping, idempotency_key=key
    )
    return record_refund(
        order, plan, shipping, reference=reference, idempotency_key=key, reason=reason
    )


def record_external_refunds(order: Order, refunds: tuple[tuple[str, int], ...]) -> int:
    """Refunds made in the gateway's dashboard: book the ones not seen before,
    spread over the lines by what each can still give back, shipping last."""
    known = {r.reference for r in order.refunds}
    booked = 0
    for reference, amount in refunds:
        if reference in known or order.status not in PAID_STATES:
            continue
        lines = list(order.lines)
        remaining = [line.line_total - line.refunded_amount for line in lines]
        from_lines = min(amount, sum(remaining))
        parts = allocate(from_lines, remaining) if from_lines else [0] * len(lines)
        plan = {line.id: part for line, part in zip(lines, parts, strict=True) if part}
        shipping = min(amount - from_lines, order.total - order.refunded_amount - from_lines)
        record_refund(order, plan, shipping, reference=reference, idempotency_key=f"external-{reference}",
                      reason="refunded outside the store")  # fmt: skip
        booked += 1
    return booked


def share_for_training(order: Order) -> int:
    """What the order puts into training accounts, as promised at checkout."""
    return sum(apply_bps(line.line_total, line.impact_share_bps) for line in order.lines)


@dataclass(frozen=True)
class WorkshopShare:
    workshop: str
    amount: int
    makers: int  # distinct makers credited; 0 when the units had no recorded makers


def training_shares(order: Order) -> list[WorkshopShare]:
    """What a paid order put into training accounts, per workshop, in one statement.

    The same split the ledger posts (each line's share over its batches' makers), told
    as amounts and head counts only: never who.
    """
    amounts: dict[int, int] = defaultdict(int)
    for line in order.lines:
        amounts[line.workshop_id] += apply_bps(line.line_total, line.impact_share_bps)
    rows = db.session.execute(
        select(Workshop.id, Workshop.name, func.count(distinct(BatchMaker.trainee_id)))
        .select_from(OrderLine)
        .join(Workshop, Workshop.id == OrderLine.workshop_id)
        .outerjoin(LineAllocation, LineAllocation.line_id == OrderLine.id)
        .outerjoin(BatchMaker, BatchMaker.batch_id == LineAllocation.batch_id)
        .where(OrderLine.order_id == order.id)
        .group_by(Workshop.id, Workshop.name)
        .order_by(Workshop.name)
    ).all()
    return [WorkshopShare(name, amounts[wid], makers) for wid, name, makers in rows if amounts[wid]]
