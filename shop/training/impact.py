"""The public /impact page: what sales put into training accounts, and how no figure on it
can single out a small workshop or a few trainees.

A workshop is shown on its own only with at least PUBLIC_MIN_TRAINEES credited
trainees. The others are never left out one by one (the total less the shown rows
would be the one left out): they are folded together into "other workshops", a group
printed only when it holds at least two workshops and PUBLIC_MIN_TRAINEES trainees.
While it does not, the smallest shown workshops join it; when even every workshop
together falls short, the page prints no figures at all.

Trainees are people, not rows: one credited at two workshops counts once wherever
figures are added together (a group, the headline), so four people never pass for five.
Every other figure follows the same threshold: the money spent is printed only once
PUBLIC_MIN_TRAINEES trainees have spent, and a month's credits only in a span of
months in which PUBLIC_MIN_TRAINEES trainees were credited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, case, distinct, func, literal_column, select
from sqlalchemy.orm import aliased

from shop.extensions import db
from shop.orders.models import OrderLine
from shop.provenance.models import Workshop
from shop.training.models import AccountKind, LedgerAccount, Transfer, TransferKind
from shop.training.reports import month_of
from shop.visibility import PUBLIC_MIN_TRAINEES

MIN_WORKSHOPS_IN_A_GROUP = 2


@dataclass(frozen=True)
class WorkshopFigures:
    workshop_id: int
    credited: int  # net of what refunds took back
    trainees: int  # trainees ever credited here
    # Who they are (training account ids), to count a group's people once each; None:
    # `trainees` people seen nowhere else.
    people: frozenset[int] | None = None

    def who(self) -> frozenset:
        if self.people is not None:
            return self.people
        return frozenset((self.workshop_id, n) for n in range(self.trainees))


def people_in(group: Iterable[WorkshopFigures]) -> int:
    """How many different trainees a group of workshops credited."""
    return len(frozenset().union(*(w.who() for w in group)))


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
    return not group or (len(group) >= MIN_WORKSHOPS_IN_A_GROUP and people_in(group) >= minimum)


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
class MonthsCredited:
    first: str  # '2026-01'
    last: str  # '2026-03': the same as `first` for a month on its own
    credited: int


@dataclass(frozen=True)
class Impact:
    published: bool  # False: too few trainees credited yet for any figure to be printed
    credited: int  # sale shares and matches, less what refunds took back
    withdrawn: int | None  # paid out to schools and suppliers; None: too few have spent
    trainees: int | None  # trainees ever credited; None: see _headline_trainees
    months: list[MonthsCredited]  # oldest first; never split by workshop
    workshops: list[WorkshopImpact]  # rows of their own
    other: OtherWorkshops | None  # the folded group's row, when there are rows beside it
    folded_workshops: int  # how many workshops are counted only as a group

    @property
    def chart(self) -> list[tuple[str, int]]:
        """Bars of single months; none when some months are shown only together (a bar
        per month would put their credits in the wrong month)."""
        if any(m.first != m.last for m in self.months):
            return []
        return [(m.last, m.credited) for m in self.months]


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
        select(workshop, credited_trainee, func.sum(_net_credit()))
        .select_from(Transfer)
        .join(subject, subject.id == Transfer.subject_account_id)
        .outerjoin(
            OrderLine,
            and_(Transfer.cause_type == "order_line", OrderLine.id == Transfer.cause_id),
        )
        .where(Transfer.kind.in_(NET_KINDS))
        .group_by(workshop, credited_trainee)
    ).all()
    credited: dict[int, int] = defaultdict(int)
    people: dict[int, set[int]] = defaultdict(set)
    for w, trainee, amount in rows:
        if w is None:
            continue
        credited[w] += int(amount or 0)
        if trainee is not None:
            people[w].add(trainee)
    return [WorkshopFigures(w, credited[w], len(people[w]), frozenset(people[w])) for w in credited]


def _months_credited(months: int, minimum: int = PUBLIC_MIN_TRAINEES) -> list[MonthsCredited]:
    """The last `months` spans of credits, each a month or several in a row that together
    credited at least `minimum` trainees: a month with fewer joins the next (the latest
    ones, the span before them). The spans cover every credit, so the total less the
    spans shown is made only of earlier spans, each as large."""
    month = month_of(Transfer.created_at)
    subject = aliased(LedgerAccount)
    trainee = case((subject.kind == AccountKind.TRAINEE, subject.id))
    rows = db.session.execute(
        select(month.label("month"), trainee, func.sum(_net_credit()))
        .select_from(Transfer)
        .join(subject, subject.id == Transfer.subject_account_id)
        .where(Transfer.kind.in_(NET_KINDS))
        .group_by(literal_column("month"), trainee)
        .order_by(literal_column("month"))
    ).all()
    # A span closes only where a month ends: a month split in two would print two rows of
    # one month and a chart bar of only one of them.
    per_month: dict[str, tuple[int, set]] = {}
    for m, who, amount in rows:
        credited, people = per_month.setdefault(m, (0, set()))
        per_month[m] = (credited + int(amount or 0), people | ({who} - {None}))
    spans: list[tuple[str, str, int, set]] = []
    first, credited, people = None, 0, set()
    for m, (amount, who) in per_month.items():
        first = first or m
        credited += amount
        people |= who
        if len(people) >= minimum:
            spans.append((first, m, credited, people))
            first, credited, people = None, 0, set()
    if first is not None:  # the latest months, too few on their own
        if not spans:
            return []
        start, _end, before, earlier = spans.pop()
        spans.append((start, m, before + credited, earlier | people))
    return [MonthsCredited(a, b, c) for a, b, c, _ in spans[-months:]]


def _withdrawn(minimum: int = PUBLIC_MIN_TRAINEES) -> int | None:
    """What trainees have spent, once at least `minimum` of them have: with fewer, the
    sum would tell what one or two people spent."""
    spenders = db.session.scalar(
        select(func.count(distinct(Transfer.subject_account_id))).where(
            Transfer.kind == TransferKind.WITHDRAWAL
        )
    )
    withdrawn = db.session.scalar(
        select(func.coalesce(func.sum(LedgerAccount.credits_posted), 0)).where(
            LedgerAccount.kind == AccountKind.WITHDRAWALS
        )
    )
    return int(withdrawn or 0) if spenders >= minimum else None


def _headline_trainees(everyone: list[WorkshopFigures], printed: list[int]) -> int | None:
    """Everyone credited, each once; None when it differs from the counts printed beside
    it by 1 to 4: the difference would be how many trainees moved between them."""
    total = people_in(everyone)
    overlap = sum(printed) - total
    return None if 0 < overlap < PUBLIC_MIN_TRAINEES else total


def impact(months: int = 12) -> Impact:
    grouping = group_for_publishing(_figures_per_workshop())
    if not grouping.published:
        return Impact(False, 0, None, 0, [], [], None, len(grouping.folded))
    everyone = grouping.shown + grouping.folded
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
            people_in(grouping.folded),
        )
    printed = [w.trainees for w in rows] + ([other.trainees] if other else [])
    return Impact(
        published=True,
        credited=sum(w.credited for w in everyone),
        withdrawn=_withdrawn(),
        trainees=_headline_trainees(everyone, printed),
        months=_months_credited(months),
        workshops=rows,
        other=other,
        folded_workshops=len(grouping.folded),
    )
