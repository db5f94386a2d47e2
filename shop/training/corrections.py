"""Corrections: one staff member proposes crediting or taking back an amount, with a
reason; another approves it (the transfer is posted then) or rejects it. Nobody moves
money in or out of a trainee's account alone, as with withdrawals. Flushes, never commits.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from shop.accounts.models import User
from shop.extensions import db
from shop.timeutil import utcnow
from shop.training.accounts import SOURCE, TrainingError, trainee_account
from shop.training.ledger import (
    InsufficientBalance,
    LedgerError,
    PlannedTransfer,
    ensure_accounts,
    lock_accounts,
    post,
)
from shop.training.models import CorrectionRequest, CorrectionStatus, Transfer, TransferKind

REASON_MAX, KEY_MAX = 250, 64


def _by_key(request_key: str) -> CorrectionRequest | None:
    return db.session.scalars(
        select(CorrectionRequest).where(CorrectionRequest.request_key == request_key)
    ).one_or_none()


def propose_correction(
    *, trainee_id: int, amount: int, reason: str, proposed_by: User, request_key: str
) -> tuple[CorrectionRequest, bool]:
    """Propose crediting (amount > 0) or taking back (amount < 0) an amount; nothing is
    posted until another staff member approves. `request_key` comes from the form that
    asked, so pressing the button twice (even at once) proposes once: returns the
    proposal and whether it is new."""
    reason = reason.strip()
    if not reason:
        raise TrainingError("A correction needs a reason.")
    if len(reason) > REASON_MAX:
        raise TrainingError(f"The reason is longer than {REASON_MAX} characters.")
    if amount == 0:
        raise TrainingError("The amount must not be zero.")
    if not request_key or len(request_key) > KEY_MAX:
        raise TrainingError("The form expired; please open the page again.")
    if (earlier := _by_key(request_key)) is not None:
        return earlier, False
    try:
        account = trainee_account(trainee_id)
    except LedgerError as exc:
        raise TrainingError("There is no such trainee.") from exc
    proposal = CorrectionRequest(
        trainee_id=trainee_id, account_id=account.id, amount=amount, currency=account.currency,
        reason=reason, request_key=request_key, requested_by_id=proposed_by.id,
    )  # fmt: skip
    try:
        with db.session.begin_nested():  # the same form sent twice at once: one proposal
            db.session.add(proposal)
    except IntegrityError:
        earlier = _by_key(request_key)
        if earlier is None:
            raise
        return earlier, False
    return proposal, True


def _pending(correction_id: int) -> CorrectionRequest:
    correction = db.session.scalars(
        select(CorrectionRequest)
        .where(CorrectionRequest.id == correction_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if correction is None:
        raise TrainingError("There is no such correction.")
    if correction.status != CorrectionStatus.REQUESTED:
        raise TrainingError(f"This correction was already {correction.status.label.lower()}.")
    return correction


def approve_correction(correction_id: int, approver: User) -> CorrectionRequest:
    """Post the correction. The proposal row is locked first, so two approvals at once
    post it once: the second finds it already approved."""
    correction = _pending(correction_id)
    if correction.requested_by_id == approver.id:
        raise TrainingError("You proposed this correction: another staff member must approve it.")
    accounts = lock_accounts(ids={correction.account_id}, codes={SOURCE})
    if len(accounts) < 2:
        ensure_accounts()
        accounts = lock_accounts(ids={correction.account_id}, codes={SOURCE})
    source = next(a.id for a in accounts.values() if a.code == SOURCE)
    account = correction.account_id
    debit, credit = (source, account) if correction.amount > 0 else (account, source)
    key = f"correction:{correction.request_key}"
    try:
        post(
            [
                PlannedTransfer(
                    debit=debit,
                    credit=credit,
                    amount=abs(correction.amount),
                    kind=TransferKind.CORRECTION,
                    idempotency_key=key,
                    cause_type="correction",
                    cause_id=correction.id,
                    memo=f"Correction: {correction.reason}",
                    subject_account_id=account,
                    created_by_id=approver.id,
                )
            ],
            accounts,
        )
    except InsufficientBalance as exc:
        raise TrainingError(
            "The balance is now lower than this correction takes back, so nothing was posted. "
            "Reject it, or propose a smaller one."
        ) from exc
    except LedgerError as exc:
        raise TrainingError(str(exc)) from exc
    correction.status = CorrectionStatus.APPROVED
    correction.decided_by_id, correction.decided_at = approver.id, utcnow()
    correction.transfer_id = db.session.scalar(
        select(Transfer.id).where(Transfer.idempotency_key == key)
    )
    db.session.flush()
    return correction


def reject_correction(correction_id: int, decider: User, note: str) -> CorrectionRequest:
    correction = _pending(correction_id)
    if correction.requested_by_id == decider.id:
        raise TrainingError("You proposed this correction: another staff member must decide it.")
    if not note.strip():
        raise TrainingError("Say why the correction is rejected.")
    correction.status = CorrectionStatus.REJECTED
    correction.decided_by_id, correction.decided_at = decider.id, utcnow()
    correction.decision_note = note.strip()[:500]
    db.session.flush()
    return correction


def pending_corrections(trainee_id: int | None = None) -> list[CorrectionRequest]:
    """Proposals waiting for a second staff member, oldest first (one trainee's, or all)."""
    query = (
        select(CorrectionRequest)
        .where(CorrectionRequest.status == CorrectionStatus.REQUESTED)
        .options(joinedload(CorrectionRequest.trainee), joinedload(CorrectionRequest.requested_by))
        .order_by(CorrectionRequest.requested_at, CorrectionRequest.id)
    )
    if trainee_id is not None:
        query = query.where(CorrectionRequest.trainee_id == trainee_id)
    return list(db.session.scalars(query))
