"""Cancelling at the gateway the payments an ended order had started.

An order cancelled while its pay page was open (by staff, or because a workshop was
suspended) could otherwise still be paid there: the money would be taken for an order
that sells nothing. Its started payments are cancelled at the gateway by a job of the
cancelling transaction, so the call is made after the commit with no transaction open;
a payment the gateway will not cancel (already paid, or it does not answer) flags the
order for staff, who refund it if it was paid.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from shop import jobs
from shop.extensions import db
from shop.jobs.outbox import JobRun
from shop.orders.gateways import GatewayError, gateway
from shop.orders.models import Order, Payment, PaymentStatus

log = logging.getLogger("shop.orders")

CANCEL_PAYMENT = "cancel_payment"


def cancel_started_payments(order: Order) -> None:
    """Queue, in the caller's transaction, the cancelling of the order's started
    payments at the gateway (none: nothing to do)."""
    started = db.session.scalars(
        select(Payment.reference).where(
            Payment.order_id == order.id, Payment.status == PaymentStatus.PENDING
        )
    )
    for reference in started:
        jobs.enqueue(CANCEL_PAYMENT, order_id=order.id, reference=reference)


@jobs.handler(CANCEL_PAYMENT)
def _cancel_payment_job(job: JobRun) -> None:
    reference = job.payload["reference"]
    try:  # called before any transaction opens: no lock waits on the gateway
        cancelled = gateway().cancel_payment(reference=reference)
        why = "the gateway would not cancel it (it may have been paid)"
    except GatewayError:
        cancelled, why = False, "the gateway did not answer"
    if cancelled:
        return
    log.warning("payment %s of a cancelled order was not cancelled at the gateway", reference)
    order = db.session.scalars(
        select(Order).where(Order.id == job.payload["order_id"]).with_for_update()
    ).one()
    message = (f"The order was cancelled, but its payment {reference} could not be cancelled "
               f"at the gateway: {why}. Check it there; refund it if it was paid.")  # fmt: skip
    if message not in order.review_reason:
        order.review_reason = f"{order.review_reason} {message}".strip()[:2000]
