"""What a refund may take: what is left on each line and the shipping, less what the
refunds under way have claimed; and how a refund's money lands on the parts it named.

Claims are the money a refund the store asked for sets aside while the gateway answers.

A refund is planned under the order's row lock, but the lock cannot be held while the
gateway answers (shop.orders.refunds). Without a claim, refunds asked for at the same
moment would each be checked against the same money left, all be sent to the gateway,
and the gateway would refund more than any of them could have had. So the plan is
claimed under the lock and committed before the gateway is called: a refund planned
meanwhile counts it as taken. The claim goes once the refund is booked, or when the
gateway refused or failed it.

A request may die between its claim and its booking (a crash, a killed worker). Its
claim must not block that money forever: a claim older than CLAIM_LIFETIME counts as
released. If the gateway did make that refund, its webhook books it from the plan the
refund carries in its metadata, on the parts it named only (never spread elsewhere),
and flags the order when the plan no longer fits.

Services flush and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, select

from shop.extensions import db
from shop.money import allocate, money_text
from shop.orders.models import Order, RefundClaim
from shop.orders.states import PAID_STATES
from shop.timeutil import as_utc, utcnow

Plan = tuple[dict[int, int], int]  # (amount per line id, shipping amount)


class RefundError(ValueError):
    """The refund asked for is not possible; nothing was changed."""


# Far longer than any gateway call can take (Stripe gives up after about 80 seconds),
# short enough that money a dead request claimed is soon refundable again.
CLAIM_LIFETIME = timedelta(minutes=15)


@dataclass
class Claimed:
    """What the open claims of one order have set aside."""

    lines: dict[int, int] = field(default_factory=dict)
    shipping: int = 0
    keys: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return sum(self.lines.values()) + self.shipping


def plan_text(plan: dict[int, int], shipping: int) -> str:
    return ",".join(f"{lid}:{amount}" for lid, amount in sorted(plan.items())) + f";{shipping}"


def read_plan(text: str) -> Plan | None:
    try:
        lines, _, shipping = text.partition(";")
        plan = {}
        for item in filter(None, lines.split(",")):
            lid, _, amount = item.partition(":")
            plan[int(lid)] = int(amount)
        return plan, int(shipping or 0)
    except ValueError:
        return None


def _open_since(now: datetime | None) -> datetime:
    return (now or utcnow()) - CLAIM_LIFETIME


def claimed(order_id: int, now: datetime | None = None) -> Claimed:
    """The money of `order_id` that refunds under way have set aside (the caller holds
    the order's lock, so no claim appears or goes meanwhile)."""
    since = _open_since(now)
    found = Claimed()
    rows = db.session.execute(
        select(RefundClaim.idempotency_key, RefundClaim.plan, RefundClaim.created_at).where(
            RefundClaim.order_id == order_id
        )
    ).all()
    for key, text, created_at in rows:
        plan = read_plan(text)
        if plan is None or as_utc(created_at) <= since:
            continue
        found.keys.add(key)
        for line_id, amount in plan[0].items():
            found.lines[line_id] = found.lines.get(line_id, 0) + amount
        found.shipping += plan[1]
    return found


def claim(order_id: int, key: str, plan: Plan, now: datetime | None = None) -> None:
    """Set `plan` aside for the refund asked for with `key` (the caller holds the order's
    lock, checked the plan against what is left and not claimed, and commits next).
    Claims that ran out are cleared first: their requests are gone."""
    db.session.execute(
        delete(RefundClaim)
        .where(RefundClaim.order_id == order_id, RefundClaim.created_at <= _open_since(now))
        .execution_options(synchronize_session=False)
    )
    by_line, shipping = plan
    db.session.add(
        RefundClaim(
            order_id=order_id, idempotency_key=key, plan=plan_text(by_line, shipping),
            amount=sum(by_line.values()) + shipping, created_at=now or utcnow(),
        )
    )  # fmt: skip
    db.session.flush()


def release(key: str) -> None:
    """The refund asked for with `key` was booked, or will never be: its claim goes."""
    if key:
        db.session.execute(
            delete(RefundClaim)
            .where(RefundClaim.idempotency_key == key)
            .execution_options(synchronize_session=False)
        )


def refund_plan(
    order: Order,
    line_amounts: dict[int, int] | None,
    include_shipping: bool,
    claimed: Claimed | None = None,
) -> Plan:
    """Check a refund request against what is left and not claimed by refunds under way;
    None means everything left."""
    if order.status not in PAID_STATES:
        raise RefundError(
            _("Order %(number)s is %(status)s; only paid orders can be refunded.",
              number=order.number, status=str(order.status.shown).lower())
        )  # fmt: skip
    claimed = claimed or Claimed()
    lines = {line.id: line for line in order.lines}
    left = {
        lid: line.line_total - line.refunded_amount - claimed.lines.get(lid, 0)
        for lid, line in lines.items()
    }
    if line_amounts is None:
        line_amounts = {lid: max(amount, 0) for lid, amount in left.items()}
        include_shipping = True
    under_way = money_text(claimed.total, order.currency) if claimed.total else None
    plan = {}
    for line_id, amount in line_amounts.items():
        line = lines.get(line_id)
        if line is None:
            raise RefundError(_("That line is not part of this order."))
        if amount < 0:
            raise RefundError(_("A refund cannot be negative."))
        remaining = max(left[line_id], 0)
        if amount > remaining:
            values = {"product": line.product_name, "under_way": under_way,
                      "left": money_text(remaining, order.currency),
                      "asked": money_text(amount, order.currency)}  # fmt: skip
            raise RefundError(
                _("%(product)s: at most %(left)s can still be refunded, not %(asked)s "
                  "(%(under_way)s is being refunded right now).", **values)
                if under_way
                else _("%(product)s: at most %(left)s can still be refunded, not %(asked)s.",
                       **values)
            )  # fmt: skip
        if amount:
            plan[line_id] = amount
    shipping = max(shipping_left(order) - claimed.shipping, 0) if include_shipping else 0
    if not plan and not shipping:
        raise RefundError(
            _("There is nothing left to refund (%(under_way)s is being refunded right now).",
              under_way=under_way)
            if under_way
            else _("There is nothing left to refund.")
        )  # fmt: skip
    return plan, shipping


def unsold_plan(
    order: Order, paid: int, line_amounts: dict[int, int] | None, claimed: Claimed
) -> Plan:
    """A payment taken for an order that was never sold (it arrived after the order was
    cancelled or expired): nothing was credited to makers, so it goes back whole, on no
    line, as one amount (booked like shipping: no share is taken back)."""
    if line_amounts is not None:
        raise RefundError(
            _("Order %(number)s is %(status)s and was never sold: only its whole payment can "
              "be refunded.", number=order.number, status=str(order.status.shown).lower())
        )  # fmt: skip
    left = paid - order.refunded_amount - claimed.total
    if left <= 0:
        raise RefundError(_("There is nothing left to refund."))
    return {}, left


def plan_for(
    order: Order, paid: int | None, line_amounts: dict[int, int] | None,
    include_shipping: bool, claims: Claimed,
) -> Plan:  # fmt: skip
    """The refund a request would make now, `paid` being what the order's payment took
    (None: no payment succeeded). One rule for the confirmation page, which shows it,
    and for refund_order, which makes it under the order's lock."""
    if order.status in PAID_STATES or paid is None:
        plan = refund_plan(order, line_amounts, include_shipping, claims)
    else:  # paid after it was cancelled or expired: the whole payment goes back
        plan = unsold_plan(order, paid, line_amounts, claims)
    if paid is None:
        raise RefundError(_("No successful payment is recorded for this order."))
    return plan


def shipping_left(order: Order) -> int:
    """What of the shipping has not been refunded: what the lines do not account for."""
    lines_refunded = sum(line.refunded_amount for line in order.lines)
    return order.shipping - (order.refunded_amount - lines_refunded)


def as_planned(order: Order, planned: Plan, amount: int) -> tuple[Plan, int]:
    """A store refund on the parts its request named, each no more than it has left;
    returns the plan to book and what of `amount` it could not hold (never spread onto
    lines or shipping the request did not name: staff decide about that money)."""
    lines = {line.id: line for line in order.lines}
    by_line, shipping = planned
    room = {
        lid: min(part, lines[lid].line_total - lines[lid].refunded_amount)
        for lid, part in by_line.items()
        if lid in lines and part > 0
    }
    room_shipping = min(max(shipping, 0), max(shipping_left(order), 0))
    capacity = sum(room.values()) + room_shipping
    to_book = min(amount, capacity)
    parts = allocate(to_book, [*room.values(), room_shipping]) if to_book else [0] * (len(room) + 1)
    plan = {lid: part for lid, part in zip(room, parts, strict=False) if part}
    return (plan, parts[-1]), amount - to_book


def spread(order: Order, amount: int) -> Plan:
    """An amount with no plan: over the lines by what each can still give back, shipping last."""
    lines = list(order.lines)
    remaining = [line.line_total - line.refunded_amount for line in lines]
    from_lines = min(amount, sum(remaining))
    parts = allocate(from_lines, remaining) if from_lines else [0] * len(lines)
    plan = {line.id: part for line, part in zip(lines, parts, strict=True) if part}
    return plan, amount - from_lines
