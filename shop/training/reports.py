"""Reading the ledger: balances, statements, reconciliation, verification, charts.

Balances are read from the account rows, never summed from transfers, so the
staff pages cost the same whatever the number of transfers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, case, func, literal_column, or_, select
from sqlalchemy.orm import joinedload

from shop.database import contains_text
from shop.extensions import db
from shop.money import money_text
from shop.provenance.models import Trainee, Workshop
from shop.timeutil import today
from shop.training import memos
from shop.training.exchange import Exchange
from shop.training.models import (
    AccountKind,
    LedgerAccount,
    Transfer,
    TransferKind,
    Withdrawal,
    WithdrawalStatus,
)
from shop.transparency.models import LogLeaf


def month_of(column):
    """'YYYY-MM' of a timestamp, on SQLite and PostgreSQL."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


# --- staff: balances ----------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceRow:
    trainee_id: int
    code: str
    legal_name: str
    workshop: str
    cohort: str
    active: bool
    balance: int
    earned: int
    last_credit_at: datetime | None


def _balance_query(workshop_id: int | None, cohort: str | None, search: str = ""):
    query = (
        select(
            Trainee.id,
            Trainee.code,
            Trainee.legal_name,
            Workshop.name,
            Trainee.cohort,
            Trainee.active,
            LedgerAccount.credits_posted - LedgerAccount.debits_posted,
            LedgerAccount.earned_posted,
            LedgerAccount.last_credit_at,
        )
        .join(Workshop, Workshop.id == Trainee.workshop_id)
        .outerjoin(LedgerAccount, LedgerAccount.trainee_id == Trainee.id)
    )
    if workshop_id:
        query = query.where(Trainee.workshop_id == workshop_id)
    if cohort:
        query = query.where(Trainee.cohort == cohort)
    if search:  # by code or public alias only: a legal name is read here, never looked up
        query = query.where(contains_text(Trainee.code, Trainee.alias, text=search))
    return query


def balances(
    *, workshop_id: int | None = None, cohort: str | None = None, search: str = "", page: int = 1,
    per_page: int = 50,
) -> tuple[list[BalanceRow], int]:  # fmt: skip
    """One page of trainees with their balances, and how many trainees match: two statements."""
    query = _balance_query(workshop_id, cohort, search)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(
        query.order_by(Trainee.code).limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return [_balance_row(r) for r in rows], total


def _balance_row(r) -> BalanceRow:
    return BalanceRow(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6] or 0), int(r[7] or 0), r[8])


def all_balances(
    workshop_id: int | None = None, cohort: str | None = None, chunk: int = 1000, search: str = ""
) -> Iterator[BalanceRow]:
    """Every trainee's balance, streamed in pages (the CSV export)."""
    last_code = ""
    while True:
        rows = db.session.execute(
            _balance_query(workshop_id, cohort, search)
            .where(Trainee.code > last_code)
            .order_by(Trainee.code)
            .limit(chunk)
        ).all()
        if not rows:
            return
        yield from (_balance_row(r) for r in rows)
        last_code = rows[-1][1]


def filter_choices() -> tuple[list[tuple[int, str]], list[str]]:
    workshops = db.session.execute(select(Workshop.id, Workshop.name).order_by(Workshop.name)).all()
    cohorts = db.session.scalars(
        select(Trainee.cohort).where(Trainee.cohort != "").distinct().order_by(Trainee.cohort)
    ).all()
    return [(w.id, w.name) for w in workshops], list(cohorts)


# --- staff: a trainee's statement --------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    transfer_id: int
    at: datetime
    kind: TransferKind
    memo: str
    amount: int  # signed: + credited to the trainee, - debited
    running_balance: int
    log_index: int | None = None  # its entry in the transparency log (None: not yet there)
    exchange: Exchange | None = None  # a withdrawal paid in another currency: both amounts

    @property
    def memo_shown(self) -> str:
        return memos.shown(self.memo)

    @property
    def has_receipt(self) -> bool:  # a credit in the log: a receipt to print for her
        return self.amount > 0 and self.log_index is not None


def statement(
    account_id: int, *, page: int | None = None, per_page: int = 100
) -> tuple[list[StatementLine], int]:
    """Every transfer on the account, with the balance after it and its log index, newest
    first: one statement (a window sum), so a page costs the same however long it is."""
    signed = case(
        (Transfer.credit_account_id == account_id, Transfer.amount), else_=-Transfer.amount
    )
    inner = (
        select(
            Transfer.id,
            Transfer.created_at,
            Transfer.kind,
            Transfer.memo,
            signed.label("signed"),
            func.sum(signed).over(order_by=Transfer.id).label("running"),
            func.count().over().label("total"),
            Transfer.cause_type,
            Transfer.cause_id,
        )
        .where(
            or_(Transfer.debit_account_id == account_id, Transfer.credit_account_id == account_id)
        )
        .subquery()
    )
    paid = and_(inner.c.cause_type == "withdrawal", Withdrawal.id == inner.c.cause_id,
                Withdrawal.rate.is_not(None))  # fmt: skip
    query = (
        select(inner, LogLeaf.index.label("log_index"), *_EXCHANGE)
        .outerjoin(LogLeaf, LogLeaf.transfer_id == inner.c.id)
        .outerjoin(Withdrawal, paid)
        .order_by(inner.c.id.desc())
    )
    if page is not None:
        query = query.limit(per_page).offset((max(page, 1) - 1) * per_page)
    rows = db.session.execute(query).all()
    lines = [
        StatementLine(r.id, r.created_at, TransferKind(r.kind), r.memo, int(r.signed),
                      int(r.running), r.log_index, Exchange(*r[-7:]) if r.rate else None)
        for r in rows
    ]  # fmt: skip
    return lines, int(rows[0].total) if rows else 0


_EXCHANGE = (Withdrawal.local_amount, Withdrawal.local_currency, Withdrawal.rate,
             Withdrawal.rate_source, Withdrawal.rate_date, Withdrawal.amount, Withdrawal.currency)  # fmt: skip


# --- reconciliation and verification ---------------------------------------------------


@dataclass
class LedgerCheck:
    accounts: int = 0
    transfers: int = 0
    total_debits: int = 0
    total_credits: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


def verify(progress: Callable[[int], None] | None = None) -> LedgerCheck:
    """Recompute every account's totals from the transfers and compare with its row."""
    check = LedgerCheck()
    debits = dict(
        db.session.execute(
            select(Transfer.debit_account_id, func.sum(Transfer.amount)).group_by(
                Transfer.debit_account_id
            )
        ).all()
    )
    credits = dict(
        db.session.execute(
            select(Transfer.credit_account_id, func.sum(Transfer.amount)).group_by(
                Transfer.credit_account_id
            )
        ).all()
    )
    check.transfers = db.session.scalar(select(func.count(Transfer.id)))
    rows = db.session.execute(
        select(
            LedgerAccount.id,
            LedgerAccount.code,
            LedgerAccount.debits_posted,
            LedgerAccount.credits_posted,
            LedgerAccount.debits_must_not_exceed_credits,
            LedgerAccount.currency,
        ).order_by(LedgerAccount.id)
    ).all()
    known = set()
    for account_id, code, debits_posted, credits_posted, flagged, currency in rows:
        money = partial(money_text, currency=currency)

        known.add(account_id)
        check.accounts += 1
        check.total_debits += debits_posted
        check.total_credits += credits_posted
        summed_debits, summed_credits = (
            int(debits.get(account_id, 0)),
            int(credits.get(account_id, 0)),
        )
        if summed_debits != debits_posted:
            check.problems.append(_("%(code)s: debits_posted %(posted)s but its transfers sum "
                                    "to %(summed)s", code=code, posted=money(debits_posted),
                                    summed=money(summed_debits)))  # fmt: skip
        if summed_credits != credits_posted:
            check.problems.append(_("%(code)s: credits_posted %(posted)s but its transfers sum "
                                    "to %(summed)s", code=code, posted=money(credits_posted),
                                    summed=money(summed_credits)))  # fmt: skip
        if flagged and debits_posted > credits_posted:
            check.problems.append(
                _("%(code)s: balance below zero (%(balance)s)", code=code,
                  balance=money(credits_posted - debits_posted))
            )  # fmt: skip
        if progress:
            progress(1)
    for orphan in (set(debits) | set(credits)) - known:
        check.problems.append(
            _("transfers name account %(account)s, which does not exist", account=orphan)
        )
    if check.total_debits != check.total_credits:
        currency = current_app.config["STORE_CURRENCY"]
        check.problems.append(
            _("total debits %(debits)s differ from total credits %(credits)s",
              debits=money_text(check.total_debits, currency),
              credits=money_text(check.total_credits, currency))
        )  # fmt: skip
    return check


@dataclass(frozen=True)
class Reconciliation:
    check: LedgerCheck
    by_kind: list[tuple[str, int, int]]  # transfer kind, count, sum
    by_account_kind: list[tuple[str, int, int, int]]  # account kind, accounts, debits, credits
    pending_withdrawals: tuple[int, int]  # count, sum


def reconciliation() -> Reconciliation:
    by_kind = db.session.execute(
        select(Transfer.kind, func.count(Transfer.id), func.sum(Transfer.amount))
        .group_by(Transfer.kind)
        .order_by(Transfer.kind)
    ).all()
    by_account_kind = db.session.execute(
        select(
            LedgerAccount.kind,
            func.count(LedgerAccount.id),
            func.sum(LedgerAccount.debits_posted),
            func.sum(LedgerAccount.credits_posted),
        )
        .group_by(LedgerAccount.kind)
        .order_by(LedgerAccount.kind)
    ).all()
    pending = db.session.execute(
        select(func.count(Withdrawal.id), func.coalesce(func.sum(Withdrawal.amount), 0)).where(
            Withdrawal.status == WithdrawalStatus.REQUESTED
        )
    ).one()
    return Reconciliation(
        verify(),
        [(TransferKind(k).label, c, int(s or 0)) for k, c, s in by_kind],
        [(AccountKind(k).label, c, int(d or 0), int(cr or 0)) for k, c, d, cr in by_account_kind],
        (pending[0], int(pending[1])),
    )


# --- a trainee's earnings ----------------------------------------------------------------


def earned_by_month(account_id: int, months: int = 12) -> list[tuple[str, int]]:
    """What one account earned (shares and matches) per month, oldest first."""
    month = month_of(Transfer.created_at)
    rows = db.session.execute(
        select(month.label("month"), func.sum(Transfer.amount))
        .where(
            Transfer.credit_account_id == account_id,
            Transfer.kind.in_([TransferKind.SALE_SHARE, TransferKind.MATCH]),
        )
        .group_by(literal_column("month"))
        .order_by(literal_column("month").desc())
        .limit(months)
    ).all()
    return [(m, int(total or 0)) for m, total in reversed(rows)]


# --- charts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One month's bar: across in percent of the chart's width, so the chart fills any
    screen while its labels keep their size (no viewBox scales them down on a phone);
    up and down in pixels."""

    x: float  # percent
    y: float  # px
    width: float  # percent
    height: float  # px
    label: str
    value: int


def last_months(values: list[tuple[str, int]], months: int = 12) -> list[tuple[str, int]]:
    """The last `months` calendar months up to this one, with zeros where nothing happened."""
    year, month = today().year, today().month
    labels = []
    for _step in range(months):
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    known = dict(values)
    return [(label, known.get(label, 0)) for label in reversed(labels)]


CHART_TOP, CHART_BOTTOM = 24, 28  # px above the tallest bar (its amount) and below (months)


def bar_chart(values: list[tuple[str, int]], *, height: int = 220) -> list[Bar]:
    """Geometry for a server-rendered SVG bar chart of the last twelve months
    (templates/_chart.html draws it)."""
    if not any(v for _label, v in values):
        return []
    values = last_months(values)
    top = max(max(v for _label, v in values), 1)
    plot_height = height - CHART_TOP - CHART_BOTTOM
    slot = 100 / len(values)
    bars = []
    for i, (label, value) in enumerate(values):
        h = plot_height * max(value, 0) / top
        bars.append(
            Bar(i * slot + slot * 0.15, CHART_TOP + plot_height - h, slot * 0.7, h, label, value)
        )
    return bars


def pending_withdrawal_list() -> list[Withdrawal]:
    return list(
        db.session.scalars(
            select(Withdrawal)
            .where(Withdrawal.status == WithdrawalStatus.REQUESTED)
            .options(
                joinedload(Withdrawal.trainee),
                joinedload(Withdrawal.requested_by),
            )
            .order_by(Withdrawal.requested_at)
        )
    )


def decided_withdrawals(page: int = 1, per_page: int = 50) -> tuple[list[Withdrawal], int]:
    """Withdrawals already approved (and so paid) or rejected, the latest decision first,
    a page at a time, and how many there are: two statements whatever their number."""
    decided = Withdrawal.status != WithdrawalStatus.REQUESTED
    total = db.session.scalar(select(func.count(Withdrawal.id)).where(decided))
    rows = db.session.scalars(
        select(Withdrawal)
        .where(decided)
        .options(
            joinedload(Withdrawal.trainee),
            joinedload(Withdrawal.requested_by),
            joinedload(Withdrawal.decided_by),
        )
        .order_by(Withdrawal.decided_at.desc(), Withdrawal.id.desc())
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(rows), total
