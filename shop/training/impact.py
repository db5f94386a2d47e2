"""The public /impact page: what sales put into training accounts, and how no figure on it
can single out a small workshop or a few trainees.

A workshop is shown on its own only with at least PUBLIC_MIN_TRAINEES credited
trainees. The others are never left out one by one (the total less the shown rows
would be the one left out): they are folded together into "other workshops", a group
printed only when it holds at least two workshops and PUBLIC_MIN_TRAINEES trainees.
While it does not, the smallest shown workshops join it; when even every workshop
together falls short, the page prints no figures at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, case, distinct, func, literal_column, select
from sqlalchemy.orm import aliased

from shop.extensions import db
from shop.orders.models import OrderLine
from shop.provenance.models import Workshop
from shop.training.models import AccountKind, LedgerAccount, Transfer, TransferKind
from shop.training.reports import month_of

PUBLIC_MIN_TRAINEES = 5
MIN_WORKSHOPS_IN_A_GROUP = 2


@dataclass(frozen=True)
class WorkshopFigures:
    workshop_id: int
    credited: int  # net of what refunds took back
    trainees: int  # trainees ever credited


@dataclass(frozen=True)
class Grouping:
    """Which workshops get a row of their own, and what is folded into 'other workshops'."""

    shown: list[WorkshopFigures]  # largest first, each with PUBLIC_MIN_TRAINEES or more
    folded: list[WorkshopFigures]  # in the 'other workshops' group
    published: bool  # False: too few trainees altogether; no figure is printed

    @property
    def other_row(self) -> bool:
        """A row for the group: only beside rows of single workshops (alone, it is the total)."""
        return self.published and bool(self.shown) and bool(self.folded)


def _can_be_printed(group: list[WorkshopFigures], minimum: int) -> bool:
    return not group or (
        len(group) >= MIN_WORKSHOPS_IN_A_GROUP and sum(w.trainees for w in group) >= minimum
    )


def group_for_publishing(
    figures: Iterable[WorkshopFigures], minimum: int = PUBLIC_MIN_TRAINEES
) -> Grouping:
    """Fold workshops so that no printed figure (a row, the group, the total less the
    rows) covers fewer than `minimum` trainees or a single workshop not shown."""
    present = [w for w in figures if w.credited or w.trainees]
    by_size = sorted(present, key=lambda w: (-w.trainees, -w.credited, w.workshop_id))
    shown = [w for w in by_size if w.trainees >= minimum]
    folded = [w for w in by_size if w.trainees < minimum]
    while not _can_be_printed(folded, minimum) and shown:
        folded.insert(0, shown.pop())  # the smallest shown workshop joins the group
    if not _can_be_printed(folded, minimum):
        return Grouping([], folded, published=False)
    return Grouping(shown, folded, published=True)


# --- what the page prints ---------------------------------------------------------------


@dataclass(frozen=True)
class WorkshopImpact:
    slug: str
    name: str
    credited: int
    trainees: int


@dataclass(frozen=True)
class OtherWorkshops:
    workshops: int
    credited: int
    trainees: int


@dataclass(frozen=True)
class Impact:
    published: bool  # False: too few trainees credited yet for any figure to be printed
    credited: int  # sale shares and matches, less what refunds took back
    withdrawn: int  # paid out to schools and suppliers
    trainees: int  # trainees ever credited
    months: list[tuple[str, int]]  # ('2026-03', cents), oldest first; never split by workshop
    workshops: list[WorkshopImpact]  # rows of their own
    other: OtherWorkshops | None  # the folded group's row, when there are rows beside it
    folded_workshops: int  # how many workshops are counted only as a group


# What a maker's figures are made of: credits, reversals, and reversals undone.
NET_KINDS = [
    TransferKind.SALE_SHARE, TransferKind.MATCH, TransferKind.REFUND_REVERSAL,
    TransferKind.REVERSAL_UNDONE,
]  # fmt: skip


def _net_credit():
    """Per transfer: + a share or match credited, - a reversal taken from the account,
    + such a reversal undone (its refund failed)."""
    return case(
        (Transfer.kind.in_([TransferKind.SALE_SHARE, TransferKind.MATCH]), Transfer.amount),
        (
            and_(
                Transfer.kind == TransferKind.REFUND_REVERSAL,
                Transfer.debit_account_id == Transfer.subject_account_id,
            ),
            -Transfer.amount,
        ),
        (
            and_(
                Transfer.kind == TransferKind.REVERSAL_UNDONE,
                Transfer.credit_account_id == Transfer.subject_account_id,
            ),
            Transfer.amount,
        ),
        else_=0,
    )


def _figures_per_workshop() -> list[WorkshopFigures]:
    """Credits count for the workshop that made the sold unit (the order line's workshop,
    the batch's), not the one the trainee is at now: a trainee who moves does not take
    her past credits with her. Matches, which no sale caused, count at the account's."""
    subject = aliased(LedgerAccount)
    workshop = func.coalesce(OrderLine.workshop_id, subject.workshop_id)
    credited_trainee = case(
        (
            and_(
                subject.kind == AccountKind.TRAINEE,
                Transfer.kind.in_([TransferKind.SALE_SHARE, TransferKind.MATCH]),
            ),
            subject.id,
        )
    )
    rows = db.session.execute(
        select(workshop, func.sum(_net_credit()), func.count(distinct(credited_trainee)))
        .select_from(Transfer)
        .join(subject, subject.id == Transfer.subject_account_id)
        .outerjoin(
            OrderLine,
            and_(Transfer.cause_type == "order_line", OrderLine.id == Transfer.cause_id),
        )
        .where(Transfer.kind.in_(NET_KINDS))
        .group_by(workshop)
    ).all()
    return [
        WorkshopFigures(w, int(credited or 0), int(trainees or 0))
        for w, credited, trainees in rows
        if w is not None
    ]


def _credited_per_month(months: int) -> list[tuple[str, int]]:
    month = month_of(Transfer.created_at)
    rows = db.session.execute(
        select(month.label("month"), func.sum(_net_credit()))
        .where(Transfer.kind.in_(NET_KINDS))
        .group_by(literal_column("month"))
        .order_by(literal_column("month").desc())
        .limit(months)
    ).all()
    return [(m, int(total or 0)) for m, total in reversed(rows)]


def impact(months: int = 12) -> Impact:
    grouping = group_for_publishing(_figures_per_workshop())
    if not grouping.published:
        return Impact(False, 0, 0, 0, [], [], None, len(grouping.folded))
    everyone = grouping.shown + grouping.folded
    withdrawn = db.session.scalar(
        select(func.coalesce(func.sum(LedgerAccount.credits_posted), 0)).where(
            LedgerAccount.kind == AccountKind.WITHDRAWALS
        )
    )
    names = {
        w.id: w
        for w in db.session.execute(
            select(Workshop.id, Workshop.slug, Workshop.name).where(
                Workshop.id.in_([w.workshop_id for w in grouping.shown])
            )
        ).all()
    }
    rows = [
        WorkshopImpact(names[w.workshop_id].slug, names[w.workshop_id].name, w.credited, w.trainees)
        for w in grouping.shown
    ]
    other = None
    if grouping.other_row:
        other = OtherWorkshops(
            len(grouping.folded),
            sum(w.credited for w in grouping.folded),
            sum(w.trainees for w in grouping.folded),
        )
    return Impact(
        published=True,
        credited=sum(w.credited for w in everyone),
        withdrawn=int(withdrawn or 0),
        trainees=sum(w.trainees for w in everyone),
        months=_credited_per_month(months),
        workshops=rows,
        other=other,
        folded_workshops=len(grouping.folded),
    )
