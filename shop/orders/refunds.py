"""Refunds: checked against what is left, made at the gateway, booked once,
and announced line by line so the ledger can reverse the shares."""

from __future__ import annotations

import secrets

from flask import current_app
from sqlalchemy import select

from shop.extensions import db
from shop.money import allocate
from shop.orders import signals
from shop.orders.models import (
    Order,
    OrderStatus,
    Refund,
    RefundLine,
)
from shop.orders.payments import succeeded_payment
from shop.orders.states import PAID_STATES, transition


class RefundError(ValueError):
    """The refund asked for is not possible; nothing was changed."""


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
