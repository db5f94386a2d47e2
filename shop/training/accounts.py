"""What every training service shares: the error staff are shown, and a trainee's account."""

from __future__ import annotations

from sqlalchemy import select

from shop.extensions import db
from shop.training.ledger import LedgerError, ensure_accounts, lock_accounts
from shop.training.models import AccountKind, LedgerAccount

SOURCE = AccountKind.SALE_SHARE_SOURCE.value
WITHDRAWALS = AccountKind.WITHDRAWALS.value
REFUND_LOSS = AccountKind.REFUND_LOSS.value


class TrainingError(ValueError):
    """A request staff made that cannot be met; the message is safe to show. `field` names
    the form field at fault, when one is."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


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
        raise LedgerError(
            f"no account for trainee {trainee_id}"
        )  # not shown: an invariant of the ledger
    return account
