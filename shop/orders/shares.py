"""What an order put into training accounts, told as amounts and head counts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import distinct, func, select

from shop.extensions import db
from shop.money import apply_bps, refunded_part
from shop.orders.models import (
    LineAllocation,
    Order,
    OrderLine,
)
from shop.provenance.models import BatchMaker, Workshop
from shop.visibility import PUBLIC_MIN_TRAINEES


def share_for_training(order: Order) -> int:
    """What the order puts into training accounts, as promised at checkout."""
    return sum(apply_bps(line.line_total, line.impact_share_bps) for line in order.lines)


@dataclass(frozen=True)
class ShareAfterRefunds:
    share: int  # what the order put into training accounts when it was paid
    taken_back: int  # what its refunds took back from them (the ledger's reversals)

    @property
    def kept(self) -> int:
        return self.share - self.taken_back


def share_after_refunds(order: Order) -> ShareAfterRefunds:
    """The order's training share and what its refunds took back, line by line by the
    rule the ledger reverses with (training listens to the refunds and posts the same)."""
    shares = [(apply_bps(line.line_total, line.impact_share_bps), line) for line in order.lines]
    return ShareAfterRefunds(
        share=sum(share for share, _ in shares),
        taken_back=sum(
            refunded_part(share, line.refunded_amount, line.line_total) for share, line in shares
        ),
    )


@dataclass(frozen=True)
class WorkshopShare:
    workshop: str
    amount: int
    makers: int  # distinct makers credited; 0 when the units had no recorded makers

    def told(self, amount: str) -> str:
        """Where `amount` (this share, formatted) went, as a buyer reads it: "$4.20 to the
        training accounts of 5 makers at Sunrise Sewing". A head count only from
        PUBLIC_MIN_TRAINEES up, as on /impact: "$1.90 to 1 maker" would tell one
        person's earnings from one item."""
        if not self.makers:
            return _("%(amount)s to the training fund at %(workshop)s", amount=amount,
                     workshop=self.workshop)  # fmt: skip
        if self.makers < PUBLIC_MIN_TRAINEES:
            return _("%(amount)s to the makers' training accounts at %(workshop)s",
                     amount=amount, workshop=self.workshop)  # fmt: skip
        return ngettext("%(amount)s to the training accounts of %(num)d maker at %(workshop)s",
                        "%(amount)s to the training accounts of %(num)d makers at %(workshop)s",
                        self.makers, amount=amount, workshop=self.workshop)  # fmt: skip


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
