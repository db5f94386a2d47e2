"""Verified gateway events: recorded by the webhook, applied by a job.

The webhook view checks the signature, records the event's id (a repeat is refused by
the unique key at once) and a job in the same transaction, and answers 2xx. The job
asks the gateway for the payment's current refunds (no transaction open), applies the
event, and records its outcome on the event's row, all in one commit; the emails it
calls for are jobs of that same commit.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, selectinload

from shop import jobs
from shop.extensions import db
from shop.jobs.outbox import JobRun
from shop.orders import payments, refunds
from shop.orders.gateways import GatewayEvent, GatewayRefund, gateway
from shop.orders.models import GatewayEvent as EventRow
from shop.orders.models import Order, Payment
from shop.orders.notifications import confirm_after_commit, refund_notice_after_commit

log = logging.getLogger("shop.orders")

APPLY_EVENT = "gateway_event"


def accept(gateway_name: str, event: GatewayEvent) -> int | None:
    """Record a verified event and the job that applies it; None for a repeat."""
    row = payments.record_event(gateway_name, event.id, event.kind)
    if row is None:
        return None
    # The reduced event: references, amounts and statuses, nothing about the buyer.
    job = jobs.enqueue(APPLY_EVENT, event_row_id=row.id, gateway=gateway_name, event=asdict(event))
    return job.id


def event_from(data: dict) -> GatewayEvent:
    found = data.get("refunds")
    refunds_told = None if found is None else tuple(GatewayRefund(**r) for r in found)
    return GatewayEvent(**{**data, "refunds": refunds_told})


@jobs.handler(APPLY_EVENT)
def _apply_event_job(job: JobRun) -> None:
    event = event_from(job.payload["event"])
    active = gateway()
    if hasattr(active, "with_current_refunds"):  # asked before any transaction opens
        event = active.with_current_refunds(event)
    row = db.session.get(EventRow, job.payload["event_row_id"])
    handled = apply_event(row, job.payload["gateway"], event)
    _tell(handled)


class Handled(NamedTuple):
    outcome: str
    paid: Order | None  # the order this event paid: its confirmation goes after the commit
    refunds_booked: list[int]  # refunds of new money: their notices go after the commit


def handle_gateway_event(gateway_name: str, event: GatewayEvent) -> Handled:
    """Record and apply one verified gateway event, once (a repeat changes nothing)."""
    row = payments.record_event(gateway_name, event.id, event.kind)
    if row is None:
        return Handled("duplicate: already handled", None, [])
    return apply_event(row, gateway_name, event)


def apply_gateway_event(gateway_name: str, event: GatewayEvent) -> str:
    """Record and apply an event and queue the emails it calls for: the confirmation of
    an order it paid, a notice per refund it booked."""
    handled = handle_gateway_event(gateway_name, event)
    _tell(handled)
    return handled.outcome


def _tell(handled: Handled) -> None:
    if handled.paid is not None:
        confirm_after_commit(handled.paid)
    for refund_id in handled.refunds_booked:
        refund_notice_after_commit(refund_id)


def apply_event(row: EventRow, gateway_name: str, event: GatewayEvent) -> Handled:
    """Apply a recorded event to its payment and order; its outcome goes on `row`."""
    outcome, order_id, paid, booked = "ignored", None, None, []
    payment = None if event.kind == "ignored" else _payment_for_event(gateway_name, event)
    if event.kind == "ignored":
        pass
    elif payment is None:
        outcome = "no matching order"
        log.warning("gateway event %s matches no payment", event.id)
    else:
        found = payment.order
        order_id = found.id
        if event.kind == "payment_succeeded":
            outcome = payments.payment_succeeded(
                found, gateway_name=gateway_name, reference=event.reference, amount=event.amount,
                currency=event.currency, payment=payment,
            )  # fmt: skip
            paid = found if outcome == "paid" else None
        elif event.kind == "payment_failed":
            outcome = payments.payment_failed(found, reason=event.failure)
        elif event.kind == "refunds_changed":
            outcome, booked = refunds.apply_gateway_refunds(found, event)
    row.order_id, row.outcome = order_id, outcome  # one UPDATE at the commit
    return Handled(outcome, paid, booked)


def _payment_for_event(gateway_name: str, event: GatewayEvent) -> Payment | None:
    """The payment and its order (locked), with what the event needs, in two statements."""
    order_options = [selectinload(Order.lines)]
    if event.kind == "refunds_changed":
        order_options += [selectinload(Order.refunds), selectinload(Order.payments)]
    query = (
        select(Payment)
        .join(Payment.order)
        .where(Payment.gateway == gateway_name, Payment.reference == event.reference)
        .options(contains_eager(Payment.order).options(*order_options))
        .with_for_update(of=Order)
    )
    return db.session.scalars(query).one_or_none()
