"""Sale shares, refund reversals, withdrawals and corrections, on the real ledger."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from shop.extensions import db
from shop.orders.models import Order, OrderStatus, RefundStatus
from shop.training import services
from shop.training.models import (
    AccountKind,
    GoalStatus,
    LedgerAccount,
    Transfer,
    TransferKind,
    WithdrawalPurpose,
    WithdrawalStatus,
)
from shop.training.reports import verify
from tests import factories as f
from tests.training.conftest import balance_of, paid_order, pay, refund, totals


def _maker_product(price=1000, bps=1000, weights=(2, 1)):
    w = f.workshop()
    p = f.product(w, price=price, impact_share_bps=bps)
    variant = p.variants[0]
    makers = [f.trainee(w) for _ in weights]
    f.batch(variant, quantity=20, makers=list(zip(makers, weights, strict=True)))
    return w, variant, makers


def _account(code: str) -> LedgerAccount:
    return db.session.scalars(
        select(LedgerAccount)
        .where(LedgerAccount.code == code)
        .execution_options(populate_existing=True)
    ).one()


def test_a_paid_order_credits_each_maker_by_weight_to_the_cent(ctx):
    _w, variant, (a, b) = _maker_product(price=1001, bps=1000, weights=(2, 1))
    order = paid_order([(variant, 3)])  # line 3003 -> share 300 (rounded down)

    assert (balance_of(a), balance_of(b)) == (200, 100)
    assert _account("sale_share_source").debits_posted == 300
    debits, credits = totals()
    assert debits == credits
    transfers = db.session.scalars(select(Transfer).order_by(Transfer.id)).all()
    assert {t.kind for t in transfers} == {TransferKind.SALE_SHARE}
    assert all(t.memo == f"Sale share: {variant.product.name}" for t in transfers)
    assert all(order.email not in t.memo and order.name not in t.memo for t in transfers)
    assert verify().clean


def test_units_with_no_recorded_makers_go_to_the_workshop_pool(ctx):
    w = f.workshop()
    p = f.product(w, price=2000, impact_share_bps=1500)
    variant = p.variants[0]
    f.batch(variant, quantity=5, makers=[])
    paid_order([(variant, 2)])
    assert _account(f"pool:{w.id}").credits_posted == 600
    assert verify().clean


def test_a_line_split_over_two_batches_credits_both_batches_makers(ctx):
    w = f.workshop()
    p = f.product(w, price=1000, impact_share_bps=1000)
    variant = p.variants[0]
    a, b = f.trainee(w), f.trainee(w)
    from datetime import date

    f.batch(variant, quantity=1, makers=[(a, 1)], produced_month=date(2025, 1, 1))
    f.batch(variant, quantity=9, makers=[(b, 1)])
    paid_order([(variant, 4)])  # share 400: 1 unit from a's batch, 3 from b's
    assert (balance_of(a), balance_of(b)) == (100, 300)


def test_the_same_payment_reported_again_credits_once(ctx):
    _w, variant, (a, b) = _maker_product()
    order = paid_order([(variant, 2)])
    before = db.session.scalar(select(func.count(Transfer.id)))
    for _ in range(5):
        assert pay(order).startswith("ignored")
    assert db.session.scalar(select(func.count(Transfer.id))) == before
    assert balance_of(a) + balance_of(b) == 200


def test_an_order_whose_payment_rolls_back_credits_nothing(app, ctx, monkeypatch):
    _w, variant, (a, _b) = _maker_product()
    from tests.orders.conftest import new_order

    order = new_order([(variant, 1)])
    order_id = order.id
    db.session.commit()

    def broken_confirmation(_order):
        raise RuntimeError("the confirmation's job blew up after the shares were posted")

    monkeypatch.setattr("shop.orders.views.confirm_after_commit", broken_confirmation)
    client = app.test_client()
    with pytest.raises(RuntimeError, match="blew up"):
        client.post(f"/orders/{order.token}/pay", data={"card_number": "4242424242424242"})
    assert db.session.get(Order, order_id).status == OrderStatus.PENDING_PAYMENT
    assert db.session.scalar(select(func.count(Transfer.id))) == 0
    assert balance_of(a) == 0


def test_partial_refunds_reverse_in_proportion_and_never_more_than_credited(ctx):
    _w, variant, (a, b) = _maker_product(price=1000, bps=1000, weights=(2, 1))
    order = paid_order([(variant, 3)])  # share 300: a 200, b 100
    line = order.lines[0]

    refund(order, {line.id: 1000})  # a third of the line
    assert (balance_of(a), balance_of(b)) == (133, 67)  # 100 back: 67 and 33
    refund(order, {line.id: 1})  # a cent: floor(300 x 1001 / 3000) = 100 already reversed
    assert balance_of(a) + balance_of(b) == 200
    refund(order, {line.id: 1999}, include_shipping=True)  # the rest: all credited comes back
    assert (balance_of(a), balance_of(b)) == (0, 0)
    reversed_total = db.session.scalar(
        select(func.sum(Transfer.amount)).where(Transfer.kind == TransferKind.REFUND_REVERSAL)
    )
    assert reversed_total == 300
    assert db.session.get(Order, order.id).refund_status == RefundStatus.FULL
    assert verify().clean


def test_a_refund_after_a_withdrawal_books_the_shortfall_to_refund_loss(ctx):
    _w, variant, (a,) = _maker_product(price=1000, bps=1000, weights=(1,))
    order = paid_order([(variant, 5)])  # a gets 500
    first, second = f.user("staff"), f.user("staff")
    withdrawal = services.request_withdrawal(
        trainee_id=a.id, amount=450, purpose=WithdrawalPurpose.COURSE_FEES, payee="Tailoring school",
        details="", requested_by=first,
    )  # fmt: skip
    services.approve_withdrawal(withdrawal.id, second)
    assert balance_of(a) == 50

    refund(order)  # the whole order: 500 to reverse, only 50 left
    assert balance_of(a) == 0
    assert _account("refund_loss").debits_posted == 450
    assert _account("sale_share_source").balance == 0  # the source got all 500 back
    assert verify().clean


def test_transfers_cannot_be_changed_or_deleted_in_the_database(ctx):
    _w, variant, _makers = _maker_product()
    paid_order([(variant, 1)])
    transfer_id = db.session.scalar(select(Transfer.id).limit(1))
    for statement in (
        "UPDATE ledger_transfers SET amount = amount + 1 WHERE id = :id",
        "DELETE FROM ledger_transfers WHERE id = :id",
    ):
        savepoint = db.session.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement), {"id": transfer_id})
        savepoint.rollback()


def test_withdrawals_need_a_second_staff_member_and_never_exceed_the_balance(ctx):
    _w, variant, (a,) = _maker_product(price=1000, bps=1000, weights=(1,))
    paid_order([(variant, 3)])  # 300
    requester, approver = f.user("staff"), f.user("staff")

    with pytest.raises(services.TrainingError, match="more than the balance"):
        services.request_withdrawal(
            trainee_id=a.id, amount=301, purpose=WithdrawalPurpose.MATERIALS, payee="Supplier",
            details="", requested_by=requester,
        )  # fmt: skip
    with pytest.raises(services.TrainingError, match="Say which school"):
        services.request_withdrawal(
            trainee_id=a.id, amount=10, purpose=WithdrawalPurpose.MATERIALS, payee="  ",
            details="", requested_by=requester,
        )  # fmt: skip
    w1 = services.request_withdrawal(
        trainee_id=a.id, amount=200, purpose=WithdrawalPurpose.SCHOOL_FEES, payee="School",
        details="Term 1", requested_by=requester,
    )  # fmt: skip
    with pytest.raises(services.TrainingError, match="still available"):
        services.request_withdrawal(
            trainee_id=a.id, amount=101, purpose=WithdrawalPurpose.SCHOOL_FEES, payee="School",
            details="", requested_by=requester,
        )  # fmt: skip
    with pytest.raises(services.TrainingError, match="another staff member"):
        services.approve_withdrawal(w1.id, requester)
    assert balance_of(a) == 300

    services.approve_withdrawal(w1.id, approver)
    assert balance_of(a) == 100
    assert w1.status == WithdrawalStatus.APPROVED and w1.transfer_id is not None
    with pytest.raises(services.TrainingError, match="already approved"):
        services.approve_withdrawal(w1.id, approver)
    assert _account("withdrawals").credits_posted == 200

    w2 = services.request_withdrawal(
        trainee_id=a.id, amount=100, purpose=WithdrawalPurpose.BUSINESS, payee="Market stall",
        details="", requested_by=requester,
    )  # fmt: skip
    with pytest.raises(services.TrainingError, match="Say why"):
        services.reject_withdrawal(w2.id, approver, " ")
    services.reject_withdrawal(w2.id, approver, "Plan not yet agreed")
    assert w2.status == WithdrawalStatus.REJECTED and balance_of(a) == 100


def test_goals_are_carried_by_the_balance_in_order_of_their_dates(ctx):
    from datetime import date

    _w, variant, (a,) = _maker_product(price=1000, bps=1000, weights=(1,))
    paid_order([(variant, 5)])  # 500
    later = services.add_goal(trainee_id=a.id, title="Sewing machine", target_amount=400,
                              target_date=date(2027, 6, 1), currency="USD")  # fmt: skip
    sooner = services.add_goal(trainee_id=a.id, title="Pattern course", target_amount=300,
                               target_date=date(2027, 1, 1), currency="USD")  # fmt: skip
    progress = {p.goal.id: p for p in services.goal_progress([later, sooner], balance_of(a))}
    assert (progress[sooner.id].covered, progress[sooner.id].percent) == (300, 100)
    assert (progress[later.id].covered, progress[later.id].percent) == (200, 50)
    services.set_goal_status(sooner.id, GoalStatus.REACHED)
    progress = {p.goal.id: p for p in services.goal_progress([later, sooner], balance_of(a))}
    assert progress[later.id].covered == 400
    with pytest.raises(services.TrainingError):
        services.add_goal(trainee_id=a.id, title="x", target_amount=0, target_date=None,
                          currency="USD")  # fmt: skip


def test_every_trainee_and_workshop_has_an_account_from_the_start(ctx):
    w = f.workshop()
    t = f.trainee(w)
    kinds = dict(
        db.session.execute(
            select(LedgerAccount.code, LedgerAccount.kind).where(
                LedgerAccount.code.in_([f"trainee:{t.id}", f"pool:{w.id}"])
            )
        ).all()
    )
    assert kinds == {
        f"trainee:{t.id}": AccountKind.TRAINEE,
        f"pool:{w.id}": AccountKind.WORKSHOP_POOL,
    }
