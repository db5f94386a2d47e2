"""Refunds: one service for the back office, the command line and the webhook.

A refund the store asks for is planned under the order's row lock and its plan is
claimed and committed (shop.orders.refund_plans: a refund planned meanwhile cannot
plan the same money), the gateway is called (with an idempotency key and the plan in
the refund's metadata), and the order is locked again to book it against the claim:
never a lock held while the gateway answers, and every booking adds to the totals as
they are *now*, so a refund committed in between is kept. A store refund is booked on
the lines and shipping its request named, never spread onto others. Whatever reports
a gateway refund (the request itself, `charge.refunded`, `refund.created`,
`refund.updated`, twice, in any order) books it once, keyed on its id.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.audit.services import record
from shop.extensions import db
from shop.money import money_text
from shop.orders import refund_plans, signals
from shop.orders.gateways import (
    REFUND_FAILED_STATUSES,
    STORE_KEY,
    STORE_PLAN,
    GatewayError,
    GatewayEvent,
    GatewayRefund,
)
from shop.orders.models import Order, Refund, RefundLine
from shop.orders.payments import succeeded_payment
from shop.orders.refund_plans import Plan, RefundError, plan_text, read_plan
from shop.orders.states import PAID_STATES
from shop.timeutil import as_utc, utcnow
from shop.unit_of_work import commit


@dataclass(frozen=True)
class RefundDone:
    refund: Refund | None  # None: nothing booked (yet); `note` says why
    booked_now: bool  # False: this request (or this gateway refund) was booked before
    note: str = ""

    @property
    def to_tell(self) -> int | None:
        """The refund whose notice the caller sends after its commit: one that booked new
        money here (booked first by the webhook, the webhook told the buyer)."""
        if self.booked_now and self.refund is not None and self.refund.amount > 0:
            return self.refund.id
        return None


def lock_order(order_id: int) -> Order | None:
    """The order, its lines, payments and refunds, read fresh under its row lock."""
    return db.session.scalars(
        select(Order)
        .where(Order.id == order_id)
        .options(
            selectinload(Order.lines), selectinload(Order.payments), selectinload(Order.refunds)
        )
        .with_for_update(of=Order)
        .execution_options(populate_existing=True)
    ).one_or_none()


def _book(
    order: Order,
    plan: Plan,
    *,
    reference: str,
    idempotency_key: str,
    reason: str,
    covered: int = 0,
) -> Refund:
    """Add a refund to the totals as they are now, and announce each line once."""
    by_line, shipping = plan
    amount = sum(by_line.values()) + shipping
    refund = Refund(
        order=order, amount=amount, covered=covered, currency=order.currency,
        gateway=order.gateway, reference=reference, idempotency_key=idempotency_key,
        reason=reason, lines=[RefundLine(line_id=lid, amount=amt) for lid, amt in by_line.items()],
    )  # fmt: skip
    db.session.add(refund)
    lines = {line.id: line for line in order.lines}
    for line_id, line_amount in by_line.items():
        lines[line_id].refunded_amount += line_amount
    order.refunded_amount += amount
    db.session.flush()
    for line_id, line_amount in by_line.items():
        line = lines[line_id]
        signals.order_line_refunded.send(
            current_app._get_current_object(),
            event=signals.RefundedLine(
                order_id=order.id, line_id=line_id, refund_id=refund.id, amount=line_amount,
                refunded_total=line.refunded_amount, line_total=line.line_total,
                currency=order.currency,
            ),
        )  # fmt: skip
    return refund


# Clocks (the gateway's, the store's) may differ by this much: a total booked longer
# than this before a refund was made at the gateway cannot hold that refund.
CLOCK_MARGIN = timedelta(minutes=1)


def _unattributed_left(order: Order, made: GatewayRefund | None = None) -> int:
    """Money booked from a gateway's total alone that no refund id has claimed yet;
    with `made`, no more than the totals booked after it was made could hold."""
    booked = sum(r.amount for r in order.refunds if not r.reference)
    left = booked - sum(r.covered for r in order.refunds if r.reference)
    if made is None or not made.created:
        return left
    made_at = datetime.fromtimestamp(made.created, UTC)
    could_hold = sum(
        r.amount
        for r in order.refunds
        if not r.reference and as_utc(r.created_at) > made_at - CLOCK_MARGIN
    )
    return min(left, could_hold)


def _flag(order: Order, message: str) -> None:
    if message not in order.review_reason:
        order.review_reason = f"{order.review_reason} {message}".strip()[:2000]


def book_gateway_refund(
    order: Order, made: GatewayRefund, *, reason: str = ""
) -> RefundDone | None:
    """Book one succeeded gateway refund once, the caller holding the order's lock.

    A refund the store asked for, on the lines and shipping its plan named, each up to
    what it has left; what does not fit there is flagged for review, never put on
    other parts. A refund made outside the store is spread over what is left. Money
    already booked from a total alone is claimed first, so it is never booked twice;
    but not from totals booked before the refund was made, which cannot hold it
    (claiming them would hide a refund the store planned per line in their spread).
    None when nothing could be booked.
    """
    for known in order.refunds:
        if known.reference == made.id or (
            made.store_key and known.idempotency_key == made.store_key
        ):
            return RefundDone(known, False)
    if made.amount <= 0:
        return None
    if order.status not in PAID_STATES:
        return _book_unsold(order, made, reason)
    covered = min(made.amount, _unattributed_left(order, made))
    amount = made.amount - covered
    left = order.total - order.refunded_amount
    if amount > left:
        _flag(order, f"The gateway refunded {money_text(made.amount, order.currency)} in "
                     f"{made.id}; only {money_text(left, order.currency)} was left.")  # fmt: skip
        amount = left
    if not amount and not covered:
        return None
    if made.store_plan and not covered:
        planned = read_plan(made.store_plan)
        if planned is None:
            _flag(order, f"Refund {made.id} carries a plan the store cannot read; "
                         "nothing of it was booked.")  # fmt: skip
            return None
        plan, unbooked = refund_plans.as_planned(order, planned, amount)
        if unbooked or sum(planned[0].values()) + planned[1] != made.amount:
            _flag(order, f"The gateway refunded {money_text(made.amount, order.currency)} in "
                         f"{made.id}, not what the store planned on the lines and shipping "
                         f"it named; {money_text(unbooked, order.currency)} of it is not "
                         "booked.")  # fmt: skip
    else:
        plan = refund_plans.spread(order, amount)
    # Booked (or nothing of it can be): the money it set aside is no longer under way.
    refund_plans.release(made.store_key)
    if not covered and not sum(plan[0].values()) + plan[1]:
        return None
    refund = _book(order, plan, reference=made.id, covered=covered,
                   idempotency_key=made.store_key or f"external-{made.id}"[:100],
                   reason=reason or "refunded outside the store")  # fmt: skip
    return RefundDone(refund, True)


def _book_unsold(order: Order, made: GatewayRefund, reason: str) -> RefundDone | None:
    """A refund of a payment taken for an order never sold (paid after it was cancelled
    or expired): booked whole on no line, so no maker's share is taken back (none was
    credited). Without such a payment there is nothing it can be: staff look."""
    payment = succeeded_payment(order)
    left = 0 if payment is None else payment.amount - order.refunded_amount
    if made.amount > left:
        _flag(order, f"The gateway reports refund {made.id} of "
                     f"{money_text(made.amount, order.currency)} on an order that is "
                     f"{order.status}, with {money_text(left, order.currency)} of its "
                     "payment left to refund.")  # fmt: skip
    refund_plans.release(made.store_key)
    amount = min(made.amount, left)
    if amount <= 0:
        return None
    refund = _book(order, ({}, amount), reference=made.id,
                   idempotency_key=made.store_key or f"external-{made.id}"[:100],
                   reason=reason or "refunded outside the store")  # fmt: skip
    return RefundDone(refund, True)


def undo_failed_refund(order: Order, made: GatewayRefund) -> bool:
    """A refund booked as succeeded that the gateway now reports failed or canceled: the
    money came back to the shop, so its booking is undone, once (keyed on its id). The
    order's and its lines' refunded totals go down by what it booked, the makers' shares
    it took back are credited back (training listens), and it is audited. The caller
    holds the order's lock. False when there is no such booking to undo."""
    refund = next((r for r in order.refunds if made.id and r.reference == made.id), None)
    if refund is None or refund.failed_at is not None:
        return False
    before = _facts(order)
    lines = {line.id: line for line in order.lines}
    parts = db.session.scalars(
        select(RefundLine).where(RefundLine.refund_id == refund.id).order_by(RefundLine.line_id)
    ).all()
    for part in parts:
        lines[part.line_id].refunded_amount -= part.amount
    order.refunded_amount -= refund.amount
    refund.failed_at = utcnow()
    if refund.covered:  # its money booked from a total stays booked: staff must look
        _flag(order, f"Refund {made.id} {made.status} at the gateway after "
                     f"{money_text(refund.covered, order.currency)} of it was booked from a "
                     "total; that part is still booked.")  # fmt: skip
    db.session.flush()
    for part in parts:
        line = lines[part.line_id]
        signals.order_line_refund_undone.send(
            current_app._get_current_object(),
            event=signals.RefundedLine(
                order_id=order.id, line_id=line.id, refund_id=refund.id, amount=part.amount,
                refunded_total=line.refunded_amount, line_total=line.line_total,
                currency=order.currency,
            ),
        )  # fmt: skip
    record("order.refund_failed", "order", order.id,
           summary=f"Refund {made.id} of order {order.number} {made.status} at the gateway; "
                   "its booking was undone",
           before=before, after={**_facts(order), "refund": refund.amount,
                                 "reference": made.id, "at_gateway": made.status})  # fmt: skip
    return True


def remember_failed_refund(order: Order, made: GatewayRefund) -> None:
    """A refund reported failed or canceled that was never booked is remembered by its
    id, as a refund row already failed (no lines, in no total): a charge's total counts a
    refund until it fails, so `book_refunded_total` must know of every failure."""
    if not made.id or made.amount <= 0 or any(r.reference == made.id for r in order.refunds):
        return
    db.session.add(
        Refund(
            order=order, amount=made.amount, currency=order.currency, gateway=order.gateway,
            reference=made.id, idempotency_key=f"failed-{made.id}"[:100], failed_at=utcnow(),
            reason=f"{made.status} at the gateway before it was booked",
        )
    )  # fmt: skip
    db.session.flush()


def book_refunded_total(order: Order, refunded_total: int, *, event_id: str) -> Refund | None:
    """Only the gateway's total is known (its refunds could not be listed): book the
    difference from what the store has booked, with no refund id. A refund that
    arrives by id later claims this money instead of booking it again."""
    if order.status not in PAID_STATES:
        return None
    missing = min(refunded_total, order.total) - order.refunded_amount
    if missing <= 0:
        return None
    failed = [r.reference for r in order.refunds if r.failed_at is not None]
    if failed:
        # A total can be older than a failure it does not know of (events come late and
        # out of order; the charge's total counts a refund until it fails), and unlisted it
        # cannot be told apart from new refunds: book none of it, and have staff look. A
        # new refund is still booked by its id when its own event comes.
        _flag(order, f"The gateway reported {money_text(refunded_total, order.currency)} "
                     f"refunded in total, {money_text(missing, order.currency)} more than "
                     f"booked, while refund {', '.join(failed)} had failed; the difference "
                     "was not booked: check the refunds at the gateway.")  # fmt: skip
        return None
    return _book(order, refund_plans.spread(order, missing), reference="",
                 idempotency_key=f"total-{event_id}"[:100],
                 reason="refunded at the gateway (its total only; the refund is named later)")  # fmt: skip


def apply_gateway_refunds(order: Order, event: GatewayEvent) -> tuple[str, list[int]]:
    """A refund event from the webhook, the order locked: book what succeeded, once.
    Returns the outcome and the refunds that booked new money (the buyer is told of
    each after the commit; a repeated event books nothing, so tells nothing)."""
    booked: list[int] = []
    for made in event.refunds or ():
        if made.succeeded:
            done = book_gateway_refund(order, made)
            if done and done.to_tell:  # new money only
                booked.append(done.to_tell)
        elif made.status in REFUND_FAILED_STATUSES:
            refund_plans.release(made.store_key)  # a store refund that will never be booked
            undone = undo_failed_refund(order, made)
            if not undone:
                remember_failed_refund(order, made)
            if not undone and _unattributed_left(order):
                # Perhaps inside a total booked without ids: which money is not known,
                # so staff are told rather than anything undone.
                _flag(
                    order,
                    f"Refund {made.id} may have been booked within a total; the gateway "
                    f"reports it {made.status}.",
                )
    if event.refunded_total is not None and not event.refunds_complete:
        total = book_refunded_total(order, event.refunded_total, event_id=event.id)
        if total is not None:
            booked.append(total.id)
    return f"{len(booked)} refund(s) booked", booked


def refund_order(
    order_id: int,
    gateway,
    *,
    line_amounts: dict[int, int] | None = None,
    include_shipping: bool = False,
    idempotency_key: str | None = None,
    reason: str = "",
    expected_amount: int | None = None,
) -> RefundDone:
    """Refund through the gateway that took the payment, book it, and audit it; refused
    when it would not be `expected_amount` (what the person confirmed), if given.

    Plan under the row lock against what is left and not claimed by refunds under way,
    claim the plan and commit (call with nothing pending that should not be committed),
    call the gateway, lock again and book against the current totals. A refusal by the
    gateway gives the claim back. The same key twice refunds once, here and at the
    gateway.
    """
    key = idempotency_key or f"refund-{order_id}-{secrets.token_hex(8)}"
    order = lock_order(order_id)
    if order is None:
        raise RefundError(_("There is no such order."))
    existing = db.session.scalars(select(Refund).where(Refund.idempotency_key == key)).one_or_none()
    if existing is not None:
        return RefundDone(existing, False)
    claimed = refund_plans.claimed(order.id)
    if key in claimed.keys:  # the same form, sent again while its refund is under way
        return RefundDone(None, False, _("This refund is already under way; reload in a moment."))
    payment = succeeded_payment(order)
    paid = payment.amount if payment else None
    plan, shipping = refund_plans.plan_for(order, paid, line_amounts, include_shipping, claimed)
    reference, amount, before = payment.reference, sum(plan.values()) + shipping, _facts(order)
    if expected_amount is not None and amount != expected_amount:
        raise RefundError(
            _("What is left to refund changed after the confirmation page: this would now "
              "refund %(amount)s, not %(expected)s. Please check the order and confirm again.",
              amount=money_text(amount, order.currency),
              expected=money_text(expected_amount, order.currency))
        )  # fmt: skip
    planned = plan_text(plan, shipping)
    refund_plans.claim(order.id, key, (plan, shipping))
    # One of the few services that end their transaction before calling out: the claim
    # must be committed, not only flushed, for a refund planned while the gateway answers
    # to see it; and committing releases the row lock, so nothing waits on the gateway.
    commit()
    try:
        made = gateway.refund(reference=reference, amount=amount, idempotency_key=key,
                              metadata={STORE_KEY: key, STORE_PLAN: planned})  # fmt: skip
    except GatewayError:
        _give_back(order_id, key)
        raise
    # The refund the gateway made (or made before for this key), booked as planned here.
    made = replace(made, store_key=key, store_plan=planned)
    order = lock_order(order_id)
    if made.status in REFUND_FAILED_STATUSES:
        refund_plans.release(key)
        note = _(
            "The gateway %(status)s the refund (%(id)s); nothing was refunded.",
            status=made.status,
            id=made.id,
        )
        done = RefundDone(None, False, note)
    elif not made.succeeded:  # booked only once it succeeds (the webhook books it then);
        # until then its claim keeps the money set aside
        note = _(
            "The gateway has the refund (%(id)s) as %(status)s; it is booked when it succeeds.",
            id=made.id,
            status=made.status,
        )
        done = RefundDone(None, False, note)
    else:
        note = _(
            "The gateway refunded %(amount)s (%(id)s); the order is flagged for review.",
            amount=money_text(made.amount, order.currency),
            id=made.id,
        )
        booked = book_gateway_refund(order, made, reason=reason or "refunded by the store")
        done = booked or RefundDone(None, False, note)
    record("order.refund", "order", order.id, summary=f"Refund of order {order.number}",
           before=before, after={**_facts(order), "refund": amount, "reference": made.id,
                                 "at_gateway": made.status})  # fmt: skip
    return done


def _give_back(order_id: int, key: str) -> None:
    """The gateway refused: the claim goes, committed at once (the caller's unit of work
    is abandoned on the refusal, and the money must be refundable again)."""
    lock_order(order_id)
    refund_plans.release(key)
    commit()


def _facts(order: Order) -> dict:
    return {"refunded_amount": order.refunded_amount, "refund_status": order.refund_status.value}
