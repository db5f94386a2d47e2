"""Four eyes: money moves in or out of a trainee's account only when one staff member
asks and another decides. Withdrawals and corrections share these steps: the request
row is locked, the asker may not decide, an approval posts one transfer (idempotent on
its key) and a rejection needs a reason. Flushes, never commits."""

from __future__ import annotations

import enum
from typing import Protocol

from flask_babel import gettext as _
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
        raise TrainingError(_no_such(noun))
    if found.status != pending:
        raise TrainingError(_already(noun, found.status.value))
    return found


def refuse_own(found: DecidedRequest, person: User, asked: str, noun: str, verb: str) -> None:
    if found.requested_by_id == person.id:
        raise TrainingError(_own(asked, noun, verb))


# Whole sentences, one per request kind, so a translator can word each one (the nouns and
# verbs are not glued into a sentence in another language's order).
def _no_such(noun: str) -> str:
    if noun == "withdrawal":
        return _("There is no such withdrawal.")
    if noun == "correction":
        return _("There is no such correction.")
    return f"There is no such {noun}."


def _already(noun: str, status: str) -> str:
    sentences = {
        ("withdrawal", "approved"): lambda: _("This withdrawal was already approved."),
        ("withdrawal", "rejected"): lambda: _("This withdrawal was already rejected."),
        ("withdrawal", "requested"): lambda: _("This withdrawal was already requested."),
        ("correction", "approved"): lambda: _("This correction was already approved."),
        ("correction", "rejected"): lambda: _("This correction was already rejected."),
        ("correction", "requested"): lambda: _("This correction was already requested."),
    }
    said = sentences.get((noun, status))
    return said() if said else f"This {noun} was already {status}."


def _own(asked: str, noun: str, verb: str) -> str:
    sentences = {
        ("requested", "withdrawal", "approve"): lambda: _(
            "You requested this withdrawal: another staff member must approve it."
        ),
        ("requested", "withdrawal", "decide"): lambda: _(
            "You requested this withdrawal: another staff member must decide it."
        ),
        ("proposed", "correction", "approve"): lambda: _(
            "You proposed this correction: another staff member must approve it."
        ),
        ("proposed", "correction", "decide"): lambda: _(
            "You proposed this correction: another staff member must decide it."
        ),
    }
    said = sentences.get((asked, noun, verb))
    return said() if said else f"You {asked} this {noun}: another staff member must {verb} it."


def _why(noun: str) -> str:
    if noun == "withdrawal":
        return _("Say why the withdrawal is rejected.")
    if noun == "correction":
        return _("Say why the correction is rejected.")
    return f"Say why the {noun} is rejected."


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
        raise TrainingError(_why(noun))
    _decided(found, decider, rejected)
    found.decision_note = note.strip()[:500]
    db.session.flush()


def _decided(found: DecidedRequest, person: User, status: enum.Enum) -> None:
    found.status = status
    found.decided_by_id, found.decided_at = person.id, utcnow()
