"""Two staff members approve two withdrawals at the same moment, and together they
exceed the balance: one is paid, the other refused, the balance never below zero.
Real commits on a database of its own (PostgreSQL in CI, SQLite otherwise)."""

from __future__ import annotations

import threading

from shop.extensions import db
from shop.training import services
from shop.training.models import LedgerAccount, Withdrawal, WithdrawalPurpose, WithdrawalStatus
from shop.training.reports import verify
from tests import factories as f
from tests.training.conftest import paid_order


def test_two_approvals_racing_for_one_balance_pay_only_one(committed_app):
    app = committed_app
    with app.app_context():
        w = f.workshop()
        product = f.product(w, price=1000, impact_share_bps=1000)
        trainee = f.trainee(w)
        f.batch(product.variants[0], quantity=10, makers=[(trainee, 1)])
        paid_order([(product.variants[0], 10)])  # 1000 in the account
        requester, first, second = f.user("staff"), f.user("staff"), f.user("staff")
        requests = [
            services.request_withdrawal(
                trainee_id=trainee.id,
                amount=400,
                purpose=WithdrawalPurpose.SCHOOL_FEES,
                payee=f"School {i}",
                details="",
                requested_by=requester,
            )
            for i in range(2)
        ]
        # Spent elsewhere between request and approval: now only one of the two fits.
        taken, _new = services.propose_correction(
            trainee_id=trainee.id, amount=-500, reason="Paid for a course directly",
            proposed_by=requester, request_key="race-setup",
        )  # fmt: skip
        services.approve_correction(taken.id, first)
        db.session.commit()
        ids = [r.id for r in requests]
        approver_ids = [first.id, second.id]
        trainee_id = trainee.id

    start = threading.Barrier(2)
    outcomes: list[str] = ["", ""]

    def approve(i: int) -> None:
        with app.app_context():
            from shop.accounts.models import User

            start.wait()
            try:
                approver = db.session.get(User, approver_ids[i])
                services.approve_withdrawal(ids[i], approver)
                db.session.commit()
                outcomes[i] = "approved"
            except services.TrainingError as exc:
                db.session.rollback()
                outcomes[i] = f"refused: {exc}"
            except Exception as exc:  # a crash must show in the outcome, not vanish in a thread
                db.session.rollback()
                outcomes[i] = f"crashed: {exc!r}"

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(o.split(":")[0] for o in outcomes) == ["approved", "refused"], outcomes
    assert any("balance is now lower" in o for o in outcomes)
    with app.app_context():
        account = db.session.query(LedgerAccount).filter_by(trainee_id=trainee_id).one()
        assert account.credits_posted - account.debits_posted == 100
        statuses = sorted(db.session.get(Withdrawal, i).status for i in ids)
        assert statuses == [WithdrawalStatus.APPROVED, WithdrawalStatus.REQUESTED]
        assert verify().clean
