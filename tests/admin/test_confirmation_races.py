"""A confirmation page's button pressed twice at the same moment (two tabs on one page, a
double click that reached the server twice) acts once. Real commits on a database of its
own: on PostgreSQL (TEST_DATABASE_URL) the second press waits on the first's row in
used_confirmations and then finds it taken; on SQLite the writes take turns."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from shop.extensions import db
from shop.orders.models import Order, Refund
from shop.training.models import LedgerAccount, Withdrawal, WithdrawalPurpose, WithdrawalStatus
from shop.training.services import request_withdrawal
from tests import factories as f
from tests.confirming import confirmation_form
from tests.conftest import sign_in, warm_pool
from tests.orders.test_refund_races import SlowGateway, _paid_order
from tests.training.conftest import paid_order


def _clients(app, person_id: int, count: int = 2):
    class Person:
        id = person_id

    clients = [app.test_client() for _ in range(count)]
    for client in clients:
        sign_in(client, Person)
    return clients


def _pressed_at_once(clients, action: str, fields: dict) -> list[int]:
    start = threading.Barrier(len(clients))
    statuses: list = [None] * len(clients)

    def press(i: int) -> None:
        start.wait()
        try:
            statuses[i] = clients[i].post(action, data=fields).status_code
        except Exception as exc:  # shown in the results, not lost in the thread
            statuses[i] = repr(exc)

    threads = [threading.Thread(target=press, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return statuses


def test_a_refund_confirmed_twice_at_once_refunds_once(committed_app):
    app = committed_app
    warm_pool(app, 4)
    order_id, line_id, admin_id, _shipping = _paid_order(app)
    clients = _clients(app, admin_id)
    page = clients[0].post(f"/admin/orders/{order_id}/refund/confirm",
                           data={"request_key": "twice", f"line-{line_id}": "20.00"})  # fmt: skip
    action, fields = confirmation_form(page)
    gateway = SlowGateway()  # the first press waits on it while the second arrives
    real, app.extensions["payment_gateway"] = app.extensions["payment_gateway"], gateway
    try:
        statuses = _pressed_at_once(clients, action, fields)
    finally:
        app.extensions["payment_gateway"] = real
    assert sorted(statuses) == [302, 409], statuses
    assert gateway.refunded == [2000]
    with app.app_context():
        assert db.session.scalar(select(func.count(Refund.id))) == 1
        assert db.session.get(Order, order_id).refunded_amount == 2000


def test_a_withdrawal_confirmed_twice_at_once_is_paid_once(committed_app):
    app = committed_app
    warm_pool(app, 4)
    with app.app_context():
        w = f.workshop()
        product = f.product(w, price=1000, impact_share_bps=1000)
        trainee = f.trainee(w)
        f.batch(product.variants[0], quantity=10, makers=[(trainee, 1)])
        paid_order([(product.variants[0], 10)])  # 1000 in the account
        withdrawal = request_withdrawal(
            trainee_id=trainee.id, amount=300, purpose=WithdrawalPurpose.SCHOOL_FEES,
            payee="School", details="", requested_by=f.user("staff"),
        )  # fmt: skip
        approver = f.user("staff")
        db.session.commit()
        withdrawal_id, approver_id, trainee_id = withdrawal.id, approver.id, trainee.id
    clients = _clients(app, approver_id)
    action, fields = confirmation_form(
        clients[0].get(f"/staff/withdrawals/{withdrawal_id}/approve")
    )
    statuses = _pressed_at_once(clients, action, fields)
    assert sorted(statuses) == [302, 409], statuses
    with app.app_context():
        assert db.session.get(Withdrawal, withdrawal_id).status == WithdrawalStatus.APPROVED
        account = db.session.scalars(
            select(LedgerAccount).where(LedgerAccount.trainee_id == trainee_id)
        ).one()
        assert account.credits_posted - account.debits_posted == 700
