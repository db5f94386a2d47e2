"""Training accounts: what sales, withdrawals and corrections post (refunds: reversals.py).

Services take plain arguments, flush and never commit. The order listeners
run inside the transaction that paid or refunded the order, so the shares
commit with the payment or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from shop.accounts.models import User
from shop.extensions import db
from shop.money import allocate
from shop.orders.signals import PaidOrder
from shop.provenance.models import BatchMaker, Trainee
from shop.timeutil import utcnow
from shop.training.ledger import (
    InsufficientBalance,
    LedgerError,
    PlannedTransfer,
    ensure_accounts,
    lock_accounts,
    pool_code,
    post,
)
from shop.training.models import (
    AccountKind,
    DevelopmentGoal,
    GoalStatus,
    LedgerAccount,
    Transfer,
    TransferKind,
    Withdrawal,
    WithdrawalPurpose,
    WithdrawalStatus,
)

SOURCE = AccountKind.SALE_SHARE_SOURCE.value
WITHDRAWALS = AccountKind.WITHDRAWALS.value


class TrainingError(ValueError):
    """A request staff made that cannot be met; the message is safe to show."""


# --- sale shares -------------------------------------------------------------------


def split_share(share: int, allocations, makers_by_batch) -> list[tuple[int | None, int]]:
    """Split one line's share: over its batches by units, then over each batch's makers by
    weight. Returns (trainee id, amount) pairs; None stands for the workshop pool."""
    if share <= 0 or not allocations:
        return [(None, share)] if share > 0 else []
    parts: list[tuple[int | None, int]] = []
    for allocation, part in zip(
        allocations, allocate(share, [a.quantity for a in allocations]), strict=True
    ):
        makers = makers_by_batch.get(allocation.batch_id, []) if allocation.batch_id else []
        if not makers:
            parts.append((None, part))
            continue
        for (trainee_id, _weight), amount in zip(
            makers, allocate(part, [w for _t, w in makers]), strict=True
        ):
            parts.append((trainee_id, amount))
    return [(who, amount) for who, amount in parts if amount > 0]


def credit_sale_shares(event: PaidOrder) -> int:
    """Post every share of a paid order; returns the cents credited."""
    batch_ids = {a.batch_id for line in event.lines for a in line.allocations if a.batch_id}
    makers_by_batch: dict[int, list[tuple[int, int]]] = defaultdict(list)
    if batch_ids:
        rows = db.session.execute(
            select(BatchMaker.batch_id, BatchMaker.trainee_id, BatchMaker.weight)
            .where(BatchMaker.batch_id.in_(batch_ids))
            .order_by(BatchMaker.batch_id, BatchMaker.id)
        )
        for batch_id, trainee_id, weight in rows:
            makers_by_batch[batch_id].append((trainee_id, weight))

    splits = {
        line.line_id: split_share(line.share, line.allocations, makers_by_batch)
        for line in event.lines
    }
    trainee_ids = {who for parts in splits.values() for who, _ in parts if who is not None}
    workshop_ids = {line.workshop_id for line in event.lines}
    codes = {SOURCE} | {pool_code(w) for w in workshop_ids}
    if not any(splits.values()):
        return 0
    accounts = lock_accounts(codes=codes, trainee_ids=trainee_ids)
    if len(accounts) < len(codes) + len(trainee_ids):
        ensure_accounts(trainee_ids, workshop_ids)  # only for owners made outside the ORM
        accounts = lock_accounts(codes=codes, trainee_ids=trainee_ids)
    by_code = {a.code: a.id for a in accounts.values()}
    by_trainee = {a.trainee_id: a.id for a in accounts.values() if a.trainee_id}

    transfers = []
    for line in event.lines:
        per_account: dict[int, int] = defaultdict(int)
        for who, amount in splits[line.line_id]:
            account = by_trainee[who] if who is not None else by_code[pool_code(line.workshop_id)]
            per_account[account] += amount
        for account_id, amount in sorted(per_account.items()):
            transfers.append(
                PlannedTransfer(
                    debit=by_code[SOURCE],
                    credit=account_id,
                    amount=amount,
                    kind=TransferKind.SALE_SHARE,
                    idempotency_key=f"sale:{line.line_id}:{account_id}",
                    cause_type="order_line",
                    cause_id=line.line_id,
                    memo=f"Sale share: {line.product_name}",
                    subject_account_id=account_id,
                )
            )
    post(transfers, accounts)
    return sum(t.amount for t in transfers)


# --- withdrawals -----------------------------------------------------------------------


def _read_trainee_account(trainee_id: int, lock: bool) -> LedgerAccount | None:
    if lock:
        return next(iter(lock_accounts(trainee_ids={trainee_id}).values()), None)
    return db.session.scalars(
        select(LedgerAccount).where(LedgerAccount.trainee_id == trainee_id)
    ).one_or_none()


def trainee_account(trainee_id: int, *, lock: bool = False) -> LedgerAccount:
    """The trainee's account, opened if she was made outside the ORM; LedgerError when
    there is no such trainee."""
    account = _read_trainee_account(trainee_id, lock)
    if account is None:
        ensure_accounts(trainee_ids={trainee_id})
        account = _read_trainee_account(trainee_id, lock)
    if account is None:
        raise LedgerError(f"no account for trainee {trainee_id}")
    return account


def pending_withdrawals(account_id: int) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(Withdrawal.amount), 0)).where(
            Withdrawal.account_id == account_id, Withdrawal.status == WithdrawalStatus.REQUESTED
        )
    )


def request_withdrawal(
    *, trainee_id: int, amount: int, purpose: WithdrawalPurpose, payee: str, details: str,
    requested_by: User,
) -> Withdrawal:  # fmt: skip
    payee = payee.strip()
    if amount <= 0:
        raise TrainingError("The amount must be more than zero.")
    if not payee:
        raise TrainingError("Say which school, institution or supplier is paid.")
    trainee = db.session.get(Trainee, trainee_id)
    if trainee is None:
        raise TrainingError("There is no such trainee.")
    account = trainee_account(trainee_id, lock=True)
    available = account.balance - pending_withdrawals(account.id)
    if amount > available:
        raise TrainingError(
            "The amount is more than the balance still available "
            "(the balance less withdrawals waiting for approval)."
        )
    withdrawal = Withdrawal(
        trainee_id=trainee_id, account_id=account.id, amount=amount, currency=account.currency,
        purpose=purpose, payee=payee[:200], details=details.strip(), requested_by_id=requested_by.id,
    )  # fmt: skip
    db.session.add(withdrawal)
    db.session.flush()
    return withdrawal


def _pending_withdrawal(withdrawal_id: int) -> Withdrawal:
    withdrawal = db.session.scalars(
        select(Withdrawal)
        .where(Withdrawal.id == withdrawal_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if withdrawal is None:
        raise TrainingError("There is no such withdrawal.")
    if withdrawal.status != WithdrawalStatus.REQUESTED:
        raise TrainingError(f"This withdrawal was already {withdrawal.status.label.lower()}.")
    return withdrawal


def approve_withdrawal(withdrawal_id: int, approver: User) -> Withdrawal:
    """Post the payout. Two approvals racing for one balance: the second is refused."""
    withdrawal = _pending_withdrawal(withdrawal_id)
    if withdrawal.requested_by_id == approver.id:
        raise TrainingError("You requested this withdrawal: another staff member must approve it.")
    accounts = lock_accounts(ids={withdrawal.account_id}, codes={WITHDRAWALS})
    if len(accounts) < 2:
        ensure_accounts()
        accounts = lock_accounts(ids={withdrawal.account_id}, codes={WITHDRAWALS})
    payout = next(a.id for a in accounts.values() if a.code == WITHDRAWALS)
    key = f"withdrawal:{withdrawal.id}"
    try:
        post(
            [
                PlannedTransfer(
                    debit=withdrawal.account_id,
                    credit=payout,
                    amount=withdrawal.amount,
                    kind=TransferKind.WITHDRAWAL,
                    idempotency_key=key,
                    cause_type="withdrawal",
                    cause_id=withdrawal.id,
                    created_by_id=approver.id,
                    memo=f"{withdrawal.purpose.label}: paid to {withdrawal.payee}",
                )
            ],
            accounts,
        )
    except InsufficientBalance as exc:
        raise TrainingError(
            "The balance is now lower than this withdrawal, so nothing was paid. "
            "Reject it, or wait for more sales."
        ) from exc
    withdrawal.status = WithdrawalStatus.APPROVED
    withdrawal.decided_by_id, withdrawal.decided_at = approver.id, utcnow()
    withdrawal.transfer_id = db.session.scalar(
        select(Transfer.id).where(Transfer.idempotency_key == key)
    )
    db.session.flush()
    return withdrawal


def reject_withdrawal(withdrawal_id: int, decider: User, note: str) -> Withdrawal:
    withdrawal = _pending_withdrawal(withdrawal_id)
    if withdrawal.requested_by_id == decider.id:
        raise TrainingError("You requested this withdrawal: another staff member must decide it.")
    if not note.strip():
        raise TrainingError("Say why the withdrawal is rejected.")
    withdrawal.status = WithdrawalStatus.REJECTED
    withdrawal.decided_by_id, withdrawal.decided_at = decider.id, utcnow()
    withdrawal.decision_note = note.strip()[:500]
    db.session.flush()
    return withdrawal


# --- corrections --------------------------------------------------------------------


def post_correction(
    *, trainee_id: int, amount: int, reason: str, actor: User, request_key: str
) -> bool:
    """Credit (amount > 0) or debit (amount < 0) a trainee against the sale-share source.

    `request_key` comes from the form that asked, so pressing the button twice posts
    once. Returns False when that request was already posted.
    """
    reason = reason.strip()
    if not reason:
        raise TrainingError("A correction needs a reason.")
    if amount == 0:
        raise TrainingError("The amount must not be zero.")
    if not request_key or len(request_key) > 64:
        raise TrainingError("The form expired; please open the page again.")
    key = f"correction:{request_key}"
    if db.session.scalar(select(Transfer.id).where(Transfer.idempotency_key == key)):
        return False
    account = trainee_account(trainee_id)
    accounts = lock_accounts(ids={account.id}, codes={SOURCE})
    if len(accounts) < 2:
        ensure_accounts()
        accounts = lock_accounts(ids={account.id}, codes={SOURCE})
    source = next(a.id for a in accounts.values() if a.code == SOURCE)
    debit, credit = (source, account.id) if amount > 0 else (account.id, source)
    try:
        post(
            [
                PlannedTransfer(
                    debit=debit,
                    credit=credit,
                    amount=abs(amount),
                    kind=TransferKind.CORRECTION,
                    idempotency_key=key,
                    cause_type="correction",
                    memo=f"Correction: {reason}",
                    subject_account_id=account.id,
                    created_by_id=actor.id,
                )
            ],
            accounts,
        )
    except InsufficientBalance as exc:
        raise TrainingError("That would take the balance below zero; nothing was posted.") from exc
    except LedgerError as exc:
        raise TrainingError(str(exc)) from exc
    return True


# --- development plans ---------------------------------------------------------------


def add_goal(
    *, trainee_id: int, title: str, target_amount: int, target_date: date | None, currency: str
) -> DevelopmentGoal:
    if not title.strip():
        raise TrainingError("Say what the goal is.")
    if target_amount <= 0:
        raise TrainingError("The target amount must be more than zero.")
    if db.session.get(Trainee, trainee_id) is None:
        raise TrainingError("There is no such trainee.")
    goal = DevelopmentGoal(
        trainee_id=trainee_id, title=title.strip()[:200], target_amount=target_amount,
        target_date=target_date, currency=currency,
    )  # fmt: skip
    db.session.add(goal)
    db.session.flush()
    return goal


def set_goal_status(goal_id: int, status: GoalStatus) -> DevelopmentGoal:
    goal = db.session.get(DevelopmentGoal, goal_id)
    if goal is None:
        raise TrainingError("There is no such goal.")
    goal.status = status
    db.session.flush()
    return goal


@dataclass(frozen=True)
class GoalProgress:
    goal: DevelopmentGoal
    covered: int  # how much of the target the balance carries, after earlier open goals
    percent: int


def goal_progress(goals: list[DevelopmentGoal], balance: int) -> list[GoalProgress]:
    """Open goals are funded in order of target date (undated last), from the balance."""
    left = max(balance, 0)
    progress = []
    dated = sorted(
        goals, key=lambda g: (g.status != GoalStatus.OPEN, g.target_date or date.max, g.id)
    )
    for goal in dated:
        if goal.status == GoalStatus.OPEN:
            covered = min(left, goal.target_amount)
            left -= covered
        else:
            covered = goal.target_amount if goal.status == GoalStatus.REACHED else 0
        progress.append(GoalProgress(goal, covered, covered * 100 // goal.target_amount))
    return progress
