"""Withdrawals: one staff member requests a payout to a school or supplier, another
approves it (the transfer is posted then) or rejects it. Flushes, never commits."""

from __future__ import annotations

from sqlalchemy import func, select

from shop.accounts.models import User
from shop.extensions import db
from shop.provenance.models import Trainee
from shop.training import four_eyes
from shop.training.accounts import WITHDRAWALS, TrainingError, trainee_account
from shop.training.models import (
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
        raise TrainingError("The amount must be more than zero.", "amount")
    if not payee:
        raise TrainingError("Say which school, institution or supplier is paid.", "payee")
    trainee = db.session.get(Trainee, trainee_id)
    if trainee is None:
        raise TrainingError("There is no such trainee.")
    account = trainee_account(trainee_id, lock=True)
    available = account.balance - pending_withdrawals(account.id)
    if amount > available:
        raise TrainingError(
            "The amount is more than the balance still available "
            "(the balance less withdrawals waiting for approval).",
            "amount",
        )
    withdrawal = Withdrawal(
        trainee_id=trainee_id, account_id=account.id, amount=amount, currency=account.currency,
        purpose=purpose, payee=payee[:200], details=details.strip(), requested_by_id=requested_by.id,
    )  # fmt: skip
    db.session.add(withdrawal)
    db.session.flush()
    return withdrawal


def _pending_withdrawal(withdrawal_id: int) -> Withdrawal:
    return four_eyes.lock_pending(
        Withdrawal, withdrawal_id, "withdrawal", WithdrawalStatus.REQUESTED
    )


def approve_withdrawal(withdrawal_id: int, approver: User) -> Withdrawal:
    """Post the payout. Two approvals racing for one balance: the second is refused."""
    withdrawal = _pending_withdrawal(withdrawal_id)
    four_eyes.refuse_own(withdrawal, approver, "requested", "withdrawal", "approve")
    four_eyes.approve(
        withdrawal, approver, system_code=WITHDRAWALS, into_trainee=False,
        amount=withdrawal.amount, kind=TransferKind.WITHDRAWAL, key=f"withdrawal:{withdrawal.id}",
        cause_type="withdrawal", memo=f"{withdrawal.purpose.label}: paid to {withdrawal.payee}",
        too_low="The balance is now lower than this withdrawal, so nothing was paid. "
        "Reject it, or wait for more sales.",
        approved=WithdrawalStatus.APPROVED,
    )  # fmt: skip
    return withdrawal


def reject_withdrawal(withdrawal_id: int, decider: User, note: str) -> Withdrawal:
    withdrawal = _pending_withdrawal(withdrawal_id)
    four_eyes.refuse_own(withdrawal, decider, "requested", "withdrawal", "decide")
    four_eyes.reject(withdrawal, decider, note, "withdrawal", WithdrawalStatus.REJECTED)
    return withdrawal
