"""Refund reversals: what a refund takes back of the makers' shares, and what a refund
that failed at the gateway after it was booked gives back. Like the rest of the ledger's
services, these flush and never commit: they run inside the transaction that booked
(or undid) the refund, through the order listeners.

One rule holds for every line after either: what its makers' shares gave back so far
(reversals, less reversals undone) is floor(credited x refunded / line total), with
`refunded` the line's refunded total of the moment (shop.money.refunded_part).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from shop.extensions import db
from shop.money import allocate, refunded_part
from shop.orders.signals import RefundedLine
from shop.training import memos
from shop.training.ledger import PlannedTransfer, ensure_accounts, lock_accounts, post
from shop.training.models import AccountKind, LedgerAccount, Transfer, TransferKind

SOURCE = AccountKind.SALE_SHARE_SOURCE.value
REFUND_LOSS = AccountKind.REFUND_LOSS.value


@dataclass
class _LinePosition:
    """A line's shares per subject account: credited, and given back so far (net of
    reversals undone), split into what was taken from the maker and what the store bore."""

    credited: dict[int, int] = field(default_factory=dict)
    taken: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    borne: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def given_back(self, account_id: int) -> int:
        return self.taken[account_id] + self.borne[account_id]

    @property
    def total_given_back(self) -> int:
        return sum(self.given_back(a) for a in self.credited)


def _position(line_id: int) -> _LinePosition:
    rows = db.session.execute(
        select(Transfer.kind, Transfer.subject_account_id, Transfer.debit_account_id,
               Transfer.credit_account_id, func.sum(Transfer.amount))
        .where(
            Transfer.cause_type == "order_line",
            Transfer.cause_id == line_id,
            Transfer.kind.in_([TransferKind.SALE_SHARE, TransferKind.REFUND_REVERSAL,
                               TransferKind.REVERSAL_UNDONE]),
        )
        .group_by(Transfer.kind, Transfer.subject_account_id, Transfer.debit_account_id,
                  Transfer.credit_account_id)
    ).all()  # fmt: skip
    line = _LinePosition()
    for kind, subject, debit, credit, amount in rows:
        amount = int(amount)
        if kind == TransferKind.SALE_SHARE:
            line.credited[subject] = line.credited.get(subject, 0) + amount
        elif kind == TransferKind.REFUND_REVERSAL:  # from the maker, or borne by the store
            (line.taken if debit == subject else line.borne)[subject] += amount
        else:  # undone: back to the maker, or back to the store
            (line.taken if credit == subject else line.borne)[subject] -= amount
    return line


def _lock_with_system_accounts(subjects: list[int]) -> tuple[dict[int, LedgerAccount], dict]:
    accounts = lock_accounts(ids=subjects, codes={SOURCE, REFUND_LOSS})
    if len(accounts) < len(subjects) + 2:
        ensure_accounts()
        accounts = lock_accounts(ids=subjects, codes={SOURCE, REFUND_LOSS})
    return accounts, {a.code: a.id for a in accounts.values()}


def reverse_for_refund(event: RefundedLine) -> int:
    """Take back the refunded proportion of a line's shares; returns the cents reversed.

    A full refund takes back exactly what was credited and never more. What a trainee
    has already withdrawn is not taken from them: that part is booked to refund_loss.
    """
    line = _position(event.line_id)
    due = (
        refunded_part(sum(line.credited.values()), event.refunded_total, event.line_total)
        - line.total_given_back
    )
    if due <= 0:
        return 0
    subjects = sorted(line.credited)
    remaining = [line.credited[a] - line.given_back(a) for a in subjects]
    accounts, by_code = _lock_with_system_accounts(subjects)
    transfers = []
    for account_id, amount in zip(subjects, allocate(due, remaining), strict=True):
        if amount <= 0:
            continue
        taken = min(amount, max(accounts[account_id].balance, 0))
        transfers += _maker_and_store_parts(
            f"reversal:{event.refund_id}:{event.line_id}:{account_id}",
            (taken, (account_id, by_code[SOURCE]), memos.SHARE_REVERSED),
            (amount - taken, (by_code[REFUND_LOSS], by_code[SOURCE]),
             memos.BORNE_BY_THE_STORE),
            kind=TransferKind.REFUND_REVERSAL, line_id=event.line_id, account_id=account_id,
        )  # fmt: skip
    post(transfers, accounts)
    return due


def undo_for_failed_refund(event: RefundedLine) -> int:
    """A refund of this line failed at the gateway after it was booked, and the line's
    refunded total went down by `event.amount`: give back to the makers' shares what the
    rule no longer takes (a reversal in mirror: to the maker what was taken from her,
    then to the store what it bore), once per refund and line. Returns the cents."""
    prefix = f"undone:{event.refund_id}:{event.line_id}:"
    if db.session.scalar(
        select(Transfer.id).where(Transfer.idempotency_key.startswith(prefix, autoescape=True))
    ):
        return 0
    line = _position(event.line_id)
    due = refunded_part(sum(line.credited.values()), event.refunded_total, event.line_total)
    excess = line.total_given_back - due
    if excess <= 0:
        return 0
    subjects = [a for a in sorted(line.credited) if line.given_back(a) > 0]
    accounts, by_code = _lock_with_system_accounts(subjects)
    transfers = []
    weights = [line.given_back(a) for a in subjects]
    for account_id, amount in zip(subjects, allocate(excess, weights), strict=True):
        to_maker = min(amount, max(line.taken[account_id], 0))
        transfers += _maker_and_store_parts(
            f"{prefix}{account_id}",
            (to_maker, (by_code[SOURCE], account_id),
             memos.SHARE_RESTORED),
            (amount - to_maker, (by_code[SOURCE], by_code[REFUND_LOSS]),
             memos.LOSS_RESTORED),
            kind=TransferKind.REVERSAL_UNDONE, line_id=event.line_id, account_id=account_id,
        )  # fmt: skip
    post(transfers, accounts)
    return excess


Part = tuple[int, tuple[int, int], str]  # amount, (debit, credit), memo


def _maker_and_store_parts(
    key: str, maker: Part, store: Part, *, kind: TransferKind, line_id: int, account_id: int
) -> list[PlannedTransfer]:
    """A line's share moving for one maker, in two parts: what her own account gives or
    gets (keyed `key`), and what the store bears or gets back (keyed `key:loss`)."""
    return [
        PlannedTransfer(
            debit=debit,
            credit=credit,
            amount=amount,
            idempotency_key=f"{key}{suffix}",
            memo=memo,
            kind=kind,
            cause_type="order_line",
            cause_id=line_id,
            subject_account_id=account_id,
        )
        for (amount, (debit, credit), memo), suffix in ((maker, ""), (store, ":loss"))
        if amount
    ]
