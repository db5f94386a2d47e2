"""Posting transfers: the one place account totals change.

`post()` is given the accounts it touches, locked in id order (no deadlocks
between two postings). It checks every rule on them before writing anything,
then moves their totals in one UPDATE (which still refuses to take a flagged
account below zero) and inserts the transfers in one statement, both inside a
savepoint: whatever it refuses, it leaves nothing behind. It flushes and never
commits: a sale's shares commit with its payment, or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import case, event, insert, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from shop.extensions import db
from shop.provenance.models import Trainee, Workshop
from shop.timeutil import utcnow
from shop.training.models import AccountKind, LedgerAccount, Transfer, TransferKind

# session.info: the ids of the transfers this transaction posted, for the transparency
# log to append as it commits (shop.transparency.appending).
TRANSFERS_POSTED = "shop_transfers_posted"
SYSTEM_KINDS = (AccountKind.SALE_SHARE_SOURCE, AccountKind.WITHDRAWALS, AccountKind.REFUND_LOSS)
EARNING_KINDS = (TransferKind.SALE_SHARE, TransferKind.MATCH)


class LedgerError(RuntimeError):
    """A posting that must not happen; the whole transaction is to be rolled back."""


class InsufficientBalance(LedgerError):
    pass


@dataclass(frozen=True)
class PlannedTransfer:
    debit: int  # account ids
    credit: int
    amount: int
    kind: TransferKind
    idempotency_key: str
    cause_type: str
    cause_id: int | None = None
    memo: str = ""
    subject_account_id: int | None = None
    created_by_id: int | None = None


def trainee_code(trainee_id: int) -> str:
    return f"trainee:{trainee_id}"


def pool_code(workshop_id: int) -> str:
    return f"pool:{workshop_id}"


def store_currency() -> str:
    return current_app.config["STORE_CURRENCY"]


# Accounts open with their owner: every trainee and workshop gets one in the
# same flush that creates it, so paying an order never has to create accounts.


def _open_accounts_for_new_owners(session: Session, _context, _instances) -> None:
    currency = None
    for owner in list(session.new):
        if isinstance(owner, Trainee):
            currency = currency or store_currency()
            account = LedgerAccount(
                kind=AccountKind.TRAINEE,
                currency=currency,
                trainee=owner,
                debits_must_not_exceed_credits=True,
            )
            # The relationship when it was set, else the id: setting either to None would
            # blank the other at the flush.
            if owner.workshop is not None:
                account.workshop = owner.workshop
            else:
                account.workshop_id = owner.workshop_id
            session.add(account)
        elif isinstance(owner, Workshop):
            currency = currency or store_currency()
            session.add(
                LedgerAccount(
                    kind=AccountKind.WORKSHOP_POOL,
                    currency=currency,
                    workshop=owner,
                    debits_must_not_exceed_credits=True,
                )
            )


def _move_accounts_with_trainees(session: Session, _context) -> None:
    """A trainee who moves takes her account to her new workshop, whoever moved her
    (the staff form, the import): it counts towards the workshop she is now at."""
    moved = [
        t
        for t in session.dirty
        if isinstance(t, Trainee)
        and (
            inspect(t).attrs.workshop_id.history.has_changes()
            or inspect(t).attrs.workshop.history.has_changes()
        )
    ]
    for trainee in moved:
        session.connection().execute(
            update(LedgerAccount.__table__)
            .where(LedgerAccount.__table__.c.trainee_id == trainee.id)
            .values(workshop_id=trainee.workshop_id)
        )


def _code_from_owner(_mapper, _connection, account: LedgerAccount) -> None:
    if not account.code:
        if account.kind == AccountKind.TRAINEE:
            account.code = trainee_code(account.trainee_id)
        elif account.kind == AccountKind.WORKSHOP_POOL:
            account.code = pool_code(account.workshop_id)
        else:
            account.code = account.kind.value


def open_accounts_with_owners(session_class: type[Session]) -> None:
    if not event.contains(session_class, "before_flush", _open_accounts_for_new_owners):
        event.listen(session_class, "before_flush", _open_accounts_for_new_owners)
    if not event.contains(session_class, "after_flush", _move_accounts_with_trainees):
        event.listen(session_class, "after_flush", _move_accounts_with_trainees)
    if not event.contains(LedgerAccount, "before_insert", _code_from_owner):
        event.listen(LedgerAccount, "before_insert", _code_from_owner)


def _codes_opened(codes: set[str]) -> set[str]:
    return set(db.session.scalars(select(LedgerAccount.code).where(LedgerAccount.code.in_(codes))))


def _is_unique_violation(exc: IntegrityError) -> bool:
    """A duplicate key (what a concurrent creator causes), not a missing owner or a bad value."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) is not None:  # psycopg
        return orig.sqlstate == "23505"
    name = getattr(orig, "sqlite_errorname", "")  # sqlite3, Python 3.11+
    if name:
        return name in {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}
    return "UNIQUE constraint failed" in str(orig)


def ensure_accounts(trainee_ids: Iterable[int] = (), workshop_ids: Iterable[int] = ()) -> None:
    """Open any missing accounts: the system ones, and those of owners made outside the ORM.

    Raises LedgerError, opening nothing, for a trainee or workshop that does not exist. An
    account a concurrent request opened meanwhile is taken as opened (a unique violation,
    and nothing else, means that), once it is read back.
    """
    trainee_ids, workshop_ids = set(trainee_ids), set(workshop_ids)
    wanted = {k.value for k in SYSTEM_KINDS}
    wanted |= {trainee_code(t) for t in trainee_ids} | {pool_code(w) for w in workshop_ids}
    missing = wanted - _codes_opened(wanted)
    if not missing:
        return
    workshops_of = dict(
        db.session.execute(
            select(Trainee.id, Trainee.workshop_id).where(Trainee.id.in_(trainee_ids))
        ).all()
    )
    workshops_found = set(
        db.session.scalars(select(Workshop.id).where(Workshop.id.in_(workshop_ids)))
    )
    no_trainee = sorted(
        t for t in trainee_ids if trainee_code(t) in missing and t not in workshops_of
    )
    no_workshop = sorted(
        w for w in workshop_ids if pool_code(w) in missing and w not in workshops_found
    )
    if no_trainee or no_workshop:
        owners = [f"no trainee {t}" for t in no_trainee] + [f"no workshop {w}" for w in no_workshop]
        raise LedgerError(
            f"cannot open an account: {', '.join(owners)}"
        )  # not shown: an invariant of the ledger
    currency = store_currency()
    raced: set[str] = set()
    for code in sorted(missing):
        kind, _, owner = code.partition(":")
        account = LedgerAccount(code=code, currency=currency)
        if kind == "trainee":
            account.kind, account.trainee_id = AccountKind.TRAINEE, int(owner)
            account.workshop_id = workshops_of[int(owner)]
            account.debits_must_not_exceed_credits = True
        elif kind == "pool":
            account.kind, account.workshop_id = AccountKind.WORKSHOP_POOL, int(owner)
            account.debits_must_not_exceed_credits = True
        else:
            account.kind = AccountKind(code)
        savepoint = db.session.begin_nested()
        db.session.add(account)
        try:
            db.session.flush()
        except IntegrityError as exc:
            savepoint.rollback()
            if not _is_unique_violation(exc):
                raise LedgerError(
                    f"cannot open the account {code}: {exc.orig}"
                ) from exc  # not shown: an invariant of the ledger
            raced.add(code)
        else:
            savepoint.commit()
    if raced and (still_missing := raced - _codes_opened(raced)):
        raise LedgerError(
            f"cannot open the account {', '.join(sorted(still_missing))}"
        )  # not shown: an invariant of the ledger


def lock_accounts(
    *, ids: Iterable[int] = (), codes: Iterable[str] = (), trainee_ids: Iterable[int] = ()
) -> dict[int, LedgerAccount]:
    """Accounts by id, row-locked in id order for the rest of the transaction."""
    conditions = []
    if ids := set(ids):
        conditions.append(LedgerAccount.id.in_(ids))
    if codes := set(codes):
        conditions.append(LedgerAccount.code.in_(codes))
    if trainee_ids := set(trainee_ids):
        conditions.append(LedgerAccount.trainee_id.in_(trainee_ids))
    if not conditions:
        return {}
    rows = db.session.scalars(
        select(LedgerAccount)
        .where(or_(*conditions))
        .order_by(LedgerAccount.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {a.id: a for a in rows}


@dataclass
class _Movement:
    debits: int = 0
    credits: int = 0
    earned: int = 0
    credited: bool = field(default=False)


class DuplicateTransfer(LedgerError):
    """A transfer with this idempotency key was posted before."""


def post(transfers: Sequence[PlannedTransfer], accounts: dict[int, LedgerAccount]) -> None:
    """Post `transfers` between `accounts` (as returned by `lock_accounts`).

    Raises, changing nothing: InsufficientBalance when a flagged account would go
    below zero; DuplicateTransfer when a transfer was posted before; LedgerError on
    a currency mismatch or an unknown account.
    """
    if not transfers:
        return
    currency = None
    moves: dict[int, _Movement] = defaultdict(_Movement)
    for t in transfers:
        if t.amount <= 0:
            raise LedgerError(
                f"transfer {t.idempotency_key}: the amount must be positive"
            )  # not shown: an invariant of the ledger
        for account_id in (t.debit, t.credit):
            if account_id not in accounts:
                raise LedgerError(
                    f"transfer {t.idempotency_key}: account {account_id} not locked"
                )  # not shown: an invariant of the ledger
        pair = {accounts[t.debit].currency, accounts[t.credit].currency}
        if len(pair) != 1 or (currency and pair != {currency}):
            raise LedgerError(
                f"transfer {t.idempotency_key}: currencies differ {sorted(pair)}"
            )  # not shown: an invariant of the ledger
        currency = pair.pop()
        moves[t.debit].debits += t.amount
        moves[t.credit].credits += t.amount
        if t.kind in EARNING_KINDS:
            moves[t.credit].earned += t.amount
            moves[t.credit].credited = True

    ids = sorted(moves)
    # Checked on the locked rows before anything is written, so a refusal changes nothing.
    short = [
        a.code
        for i in ids
        if (a := accounts[i]).debits_must_not_exceed_credits
        and a.debits_posted + moves[i].debits > a.credits_posted + moves[i].credits
    ]
    if short:
        raise InsufficientBalance(f"not enough on {', '.join(short)}")
    # The writes run in a savepoint, so whatever the database still refuses (rows that were
    # not really locked, a transfer posted before) is undone before the error is raised.
    savepoint = db.session.begin_nested()
    try:
        now = _write_totals_and_transfers(transfers, moves, ids, currency)
    except Exception:
        savepoint.rollback()
        raise
    savepoint.commit()
    for i in ids:  # the locked rows were fresh: keep them in step without reading again
        account, move = accounts[i], moves[i]
        set_committed_value(account, "debits_posted", account.debits_posted + move.debits)
        set_committed_value(account, "credits_posted", account.credits_posted + move.credits)
        set_committed_value(account, "earned_posted", account.earned_posted + move.earned)
        if move.credited:
            set_committed_value(account, "last_credit_at", now)


def _write_totals_and_transfers(
    transfers: Sequence[PlannedTransfer], moves: dict[int, _Movement], ids: list[int], currency
):
    now = utcnow()

    def delta(attribute: str):
        values = {i: getattr(moves[i], attribute) for i in ids if getattr(moves[i], attribute)}
        return case(values, value=LedgerAccount.id, else_=0) if values else 0

    debit_delta, credit_delta = delta("debits"), delta("credits")
    credited_ids = [i for i in ids if moves[i].credited]
    values = {
        "debits_posted": LedgerAccount.debits_posted + debit_delta,
        "credits_posted": LedgerAccount.credits_posted + credit_delta,
        "earned_posted": LedgerAccount.earned_posted + delta("earned"),
    }
    if credited_ids:
        values["last_credit_at"] = case(
            (LedgerAccount.id.in_(credited_ids), now), else_=LedgerAccount.last_credit_at
        )
    moved = db.session.execute(
        update(LedgerAccount)
        .where(
            LedgerAccount.id.in_(ids),
            or_(
                ~LedgerAccount.debits_must_not_exceed_credits,
                LedgerAccount.debits_posted + debit_delta
                <= LedgerAccount.credits_posted + credit_delta,
            ),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != len(ids):
        raise InsufficientBalance("not enough on an account (its row changed since it was read)")
    try:
        posted = db.session.scalars(
            # Only the set of ids is wanted: unsorted, SQLite sends one statement for all.
            insert(Transfer).returning(Transfer.id),
            [
                {
                    "debit_account_id": t.debit,
                    "credit_account_id": t.credit,
                    "amount": t.amount,
                    "currency": currency,
                    "kind": t.kind,
                    "idempotency_key": t.idempotency_key,
                    "cause_type": t.cause_type,
                    "cause_id": t.cause_id,
                    "subject_account_id": t.subject_account_id,
                    "memo": t.memo[:300],
                    "created_by_id": t.created_by_id,
                    "created_at": now,
                }
                for t in transfers
            ],
        ).all()
    except IntegrityError as exc:
        if _is_unique_violation(exc):
            raise DuplicateTransfer("a transfer with the same key was posted before") from exc
        raise
    db.session.info.setdefault(TRANSFERS_POSTED, []).extend(posted)
    return now
