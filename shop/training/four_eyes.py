"""Four eyes: money moves in or out of a trainee's account only when one staff member
asks and another decides. Withdrawals and corrections share these steps: the request
row is locked, the asker may not decide, an approval posts one transfer (idempotent on
its key) and a rejection needs a reason. Flushes, never commits."""

from __future__ import annotations

import enum
from typing import Protocol

from sqlalchemy import select

from shop.accounts.models import User
from shop.extensions import db
from shop.timeutil import utcnow
from shop.training.accounts import TrainingError
from shop.training.ledger import (
    InsufficientBalance,
    LedgerError,
    PlannedTransfer,
    ensure_accounts,
    lock_accounts,
    post,
)
from shop.training.models import Transfer, TransferKind


class DecidedRequest(Protocol):
    id: int
    account_id: int
    status: enum.Enum
    requested_by_id: int
    decided_by_id: int | None
    decided_at: object
    decision_note: str
    transfer_id: int | None


def lock_pending(model: type, request_id: int, noun: str, pending: enum.Enum):
    """The request, locked for this transaction, while it still waits for a decision."""
    found = db.session.scalars(
        select(model)
        .where(model.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if found is None:
        raise TrainingError(f"There is no such {noun}.")
    if found.status != pending:
        raise TrainingError(f"This {noun} was already {found.status.label.lower()}.")
    return found


def refuse_own(found: DecidedRequest, person: User, asked: str, noun: str, verb: str) -> None:
    if found.requested_by_id == person.id:
        raise TrainingError(f"You {asked} this {noun}: another staff member must {verb} it.")


def approve(
    found: DecidedRequest, approver: User, *, system_code: str, into_trainee: bool,
    amount: int, kind: TransferKind, key: str, cause_type: str, memo: str, too_low: str,
    approved: enum.Enum,
) -> None:  # fmt: skip
    """Post `amount` between the request's trainee account and the system account
    `system_code` (into the trainee's when `into_trainee`), and mark it approved."""
    accounts = lock_accounts(ids={found.account_id}, codes={system_code})
    if len(accounts) < 2:
        ensure_accounts()
        accounts = lock_accounts(ids={found.account_id}, codes={system_code})
    system = next(a.id for a in accounts.values() if a.code == system_code)
    debit, credit = (system, found.account_id) if into_trainee else (found.account_id, system)
    transfer = PlannedTransfer(
        debit=debit, credit=credit, amount=amount, kind=kind, idempotency_key=key,
        cause_type=cause_type, cause_id=found.id, memo=memo,
        subject_account_id=found.account_id, created_by_id=approver.id,
    )  # fmt: skip
    try:
        post([transfer], accounts)
    except InsufficientBalance as exc:
        raise TrainingError(too_low) from exc
    except LedgerError as exc:
        raise TrainingError(str(exc)) from exc
    _decided(found, approver, approved)
    found.transfer_id = db.session.scalar(
        select(Transfer.id).where(Transfer.idempotency_key == key)
    )
    db.session.flush()


def reject(found: DecidedRequest, decider: User, note: str, noun: str, rejected: enum.Enum) -> None:
    if not note.strip():
        raise TrainingError(f"Say why the {noun} is rejected.")
    _decided(found, decider, rejected)
    found.decision_note = note.strip()[:500]
    db.session.flush()


def _decided(found: DecidedRequest, person: User, status: enum.Enum) -> None:
    found.status = status
    found.decided_by_id, found.decided_at = person.id, utcnow()
