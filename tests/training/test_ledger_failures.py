"""A posting that fails changes nothing, and opening accounts for owners who do not
exist fails at once with a clear error (issue 9, defects 6 and 7)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from shop.extensions import db
from shop.provenance.models import Trainee
from shop.training import services
from shop.training.ledger import (
    InsufficientBalance,
    LedgerError,
    PlannedTransfer,
    ensure_accounts,
    lock_accounts,
    post,
)
from shop.training.models import LedgerAccount, Transfer, TransferKind
from shop.training.reports import verify
from tests import factories as f
from tests.training.conftest import one_maker_sale


def _ledger_state():
    accounts = db.session.execute(
        select(
            LedgerAccount.id,
            LedgerAccount.debits_posted,
            LedgerAccount.credits_posted,
            LedgerAccount.earned_posted,
            LedgerAccount.last_credit_at,
        ).order_by(LedgerAccount.id)
    ).all()
    transfers = db.session.execute(
        select(Transfer.id, Transfer.amount, Transfer.idempotency_key).order_by(Transfer.id)
    ).all()
    return [tuple(a) for a in accounts], [tuple(t) for t in transfers]


def _transfer(debit: int, credit: int, amount: int, key: str, kind=TransferKind.CORRECTION):
    return PlannedTransfer(
        debit=debit, credit=credit, amount=amount, kind=kind, idempotency_key=key,
        cause_type="correction",
    )  # fmt: skip


def test_a_posting_refused_for_an_overdrawn_account_changes_nothing(ctx):
    maker, _product, _order = one_maker_sale(price=1000, sold=1)  # the maker holds 100
    db.session.flush()
    mine = services.trainee_account(maker.id)
    accounts = lock_accounts(ids={mine.id}, codes={"sale_share_source", "withdrawals"})
    by_code = {a.code: a.id for a in accounts.values()}
    source, payout = by_code["sale_share_source"], by_code["withdrawals"]
    before = _ledger_state()
    in_memory = {i: (a.debits_posted, a.credits_posted) for i, a in accounts.items()}

    # The first transfer alone is fine; with the second the maker's account would go below zero.
    planned = [
        _transfer(source, mine.id, 50, "test:credit", TransferKind.MATCH),
        _transfer(mine.id, payout, 500, "test:payout", TransferKind.WITHDRAWAL),
    ]
    with pytest.raises(InsufficientBalance, match=f"trainee:{maker.id}"):
        post(planned, accounts)

    assert _ledger_state() == before
    assert {i: (a.debits_posted, a.credits_posted) for i, a in accounts.items()} == in_memory
    # The session is still usable: a posting that fits goes through.
    post([_transfer(mine.id, payout, 100, "test:payout-ok", TransferKind.WITHDRAWAL)], accounts)
    db.session.flush()
    assert services.trainee_account(maker.id).balance == 0
    assert verify().clean


def test_a_posting_whose_transfer_was_posted_before_changes_nothing(ctx):
    maker, _product, _order = one_maker_sale(price=1000, sold=1)
    mine = services.trainee_account(maker.id)
    accounts = lock_accounts(ids={mine.id}, codes={"sale_share_source"})
    source = next(a.id for a in accounts.values() if a.code == "sale_share_source")
    post([_transfer(source, mine.id, 10, "test:once")], accounts)
    before = _ledger_state()

    # Same idempotency key: the insert is refused after the totals would have moved.
    with pytest.raises(LedgerError):
        post([_transfer(source, mine.id, 10, "test:once")], accounts)

    assert _ledger_state() == before
    assert db.session.scalar(select(Trainee.id).where(Trainee.id == maker.id)) == maker.id
    assert verify().clean


def test_an_account_for_a_trainee_who_does_not_exist_is_refused_at_once(ctx):
    w = f.workshop()
    db.session.flush()
    missing = (db.session.scalar(select(Trainee.id).order_by(Trainee.id.desc()).limit(1)) or 0) + 1
    started = time.monotonic()
    with pytest.raises(LedgerError, match=f"no trainee {missing}"):
        services.trainee_account(missing)
    with pytest.raises(LedgerError, match=f"no trainee {missing}"):
        ensure_accounts(trainee_ids={missing})
    with pytest.raises(LedgerError, match="no workshop"):
        ensure_accounts(workshop_ids={w.id + 1000})
    assert time.monotonic() - started < 5
    # Nothing was opened, and the session still works.
    assert (
        db.session.scalar(select(LedgerAccount.id).where(LedgerAccount.trainee_id == missing))
        is None
    )
    assert services.trainee_account(f.trainee(w).id).balance == 0


def test_an_account_opened_meanwhile_by_another_request_is_read_not_reopened(ctx, monkeypatch):
    from shop.training import ledger

    w = f.workshop()
    t = f.trainee(w)
    db.session.flush()
    opened = db.session.scalars(select(LedgerAccount).where(LedgerAccount.trainee_id == t.id)).one()
    # As if a concurrent request had opened it after this one looked: the insert hits the
    # unique code, and the account that request opened is the answer.
    looked = []
    read_back = ledger._codes_opened

    def not_yet_the_first_time(codes):
        looked.append(codes)
        return set() if len(looked) == 1 else read_back(codes)

    monkeypatch.setattr(ledger, "_codes_opened", not_yet_the_first_time)
    ensure_accounts(trainee_ids={t.id})
    assert len(looked) == 2  # read back once
    monkeypatch.undo()
    assert services.trainee_account(t.id).id == opened.id
