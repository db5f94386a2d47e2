"""Corrections: one staff member proposes crediting or taking back an amount, with a
reason; another approves it (the transfer is posted then) or rejects it. Nobody moves
money in or out of a trainee's account alone, as with withdrawals. Flushes, never commits.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from shop.accounts.models import User
from shop.extensions import db
from shop.training import four_eyes, memos
from shop.training.accounts import SOURCE, TrainingError, trainee_account
from shop.training.ledger import LedgerError
from shop.training.models import CorrectionRequest, CorrectionStatus, TransferKind

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
        raise TrainingError(_("A correction needs a reason."), "reason")
    if len(reason) > REASON_MAX:
        raise TrainingError(
            _("The reason is longer than %(max)s characters.", max=REASON_MAX), "reason"
        )
    if amount == 0:
        raise TrainingError(_("The amount must not be zero."), "amount")
    if not request_key or len(request_key) > KEY_MAX:
        raise TrainingError(_("The form expired; please open the page again."))
    if (earlier := _by_key(request_key)) is not None:
        return earlier, False
    try:
        account = trainee_account(trainee_id)
    except LedgerError as exc:
        raise TrainingError(_("There is no such trainee.")) from exc
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
    return four_eyes.lock_pending(
        CorrectionRequest, correction_id, "correction", CorrectionStatus.REQUESTED
    )


def approve_correction(correction_id: int, approver: User) -> CorrectionRequest:
    """Post the correction. The proposal row is locked first, so two approvals at once
    post it once: the second finds it already approved."""
    correction = _pending(correction_id)
    four_eyes.refuse_own(correction, approver, "proposed", "correction", "approve")
    four_eyes.approve(
        correction, approver, system_code=SOURCE, into_trainee=correction.amount > 0,
        amount=abs(correction.amount), kind=TransferKind.CORRECTION,
        key=f"correction:{correction.request_key}", cause_type="correction",
        memo=memos.correction(correction.reason),
        too_low=_(
            "The balance is now lower than this correction takes back, so nothing was "
            "posted. Reject it, or propose a smaller one."
        ),
        approved=CorrectionStatus.APPROVED,
    )  # fmt: skip
    return correction


def reject_correction(correction_id: int, decider: User, note: str) -> CorrectionRequest:
    correction = _pending(correction_id)
    four_eyes.refuse_own(correction, decider, "proposed", "correction", "decide")
    four_eyes.reject(correction, decider, note, "correction", CorrectionStatus.REJECTED)
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
