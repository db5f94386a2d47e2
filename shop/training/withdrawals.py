"""Withdrawals: one staff member requests a payout to a school or supplier, another
approves it (the transfer is posted then) or rejects it. Flushes, never commits."""

from __future__ import annotations

from sqlalchemy import func, select

from shop.accounts.models import User
from shop.extensions import db
from shop.provenance.models import Trainee
from shop.timeutil import utcnow
from shop.training.accounts import WITHDRAWALS, TrainingError, trainee_account
from shop.training.ledger import (
    InsufficientBalance,
    PlannedTransfer,
    ensure_accounts,
    lock_accounts,
    post,
)
from shop.training.models import (
    Transfer,
    TransferKind,
    Withdrawal,
    WithdrawalPurpose,
    WithdrawalStatus,
)


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
