"""Fifty sales paid at the same moment, each posting its makers' shares: the log gets
every transfer once, its indexes without a gap in commit order, and its stored tree is
the one rebuilt from the transfers. Real commits, real threads, on a database of its own
(PostgreSQL in CI, where they truly run at once; SQLite takes them one at a time)."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from shop.extensions import db
from shop.orders.models import Order
from shop.training.models import Transfer
from shop.transparency.checking import check_log
from shop.transparency.models import LogCheckpoint, LogLeaf
from tests import factories as f
from tests.conftest import warm_pool
from tests.orders.conftest import new_order
from tests.transparency.conftest import pay

SALES = 50


def test_fifty_sales_at_once_make_a_gapless_log_that_matches_a_rebuild(committed_app):
    app = committed_app
    with app.app_context():
        orders = []
        for i in range(5):  # five products, each with two makers: two shares a unit
            w = f.workshop()
            product = f.product(w, price=1000 + i, impact_share_bps=1000)
            makers = [f.trainee(w), f.trainee(w)]
            f.batch(product.variants[0], quantity=SALES, makers=[(m, 1) for m in makers])
            db.session.commit()
            orders += [new_order([(product.variants[0], 1)]) for _ in range(SALES // 5)]
        db.session.commit()
        order_ids = [o.id for o in orders]
    warm_pool(app)

    start = threading.Barrier(SALES, timeout=60)
    outcomes = [""] * SALES

    def pay_one(i: int) -> None:
        with app.app_context():
            try:
                start.wait()
                outcomes[i] = pay(db.session.get(Order, order_ids[i]))
                db.session.commit()
            except Exception as exc:  # a crash must show in the outcome, not vanish in a thread
                db.session.rollback()
                outcomes[i] = f"crashed: {exc!r}"

    threads = [threading.Thread(target=pay_one, args=(i,)) for i in range(SALES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)

    assert outcomes == ["paid"] * SALES, [o for o in outcomes if o != "paid"][:3]
    with app.app_context():
        transfers = db.session.scalar(select(func.count(Transfer.id)))
        assert transfers == 2 * SALES
        indexes = list(db.session.scalars(select(LogLeaf.index).order_by(LogLeaf.index)))
        assert indexes == list(range(transfers))  # every transfer once, no gap
        logged = set(db.session.scalars(select(LogLeaf.transfer_id)))
        assert logged == set(db.session.scalars(select(Transfer.id)))
        check = check_log()
        assert check.clean, check.problems
        latest = db.session.scalar(select(func.max(LogCheckpoint.size)))
        assert latest == transfers  # the last commit signed the whole tree


def test_postings_that_share_no_account_still_append_one_after_the_other(committed_app):
    """Sales all touch the store's share account, whose lock already puts them in a row;
    postings between accounts of their own do not: only the log's head keeps their
    indexes apart."""
    from shop.training.ledger import PlannedTransfer, lock_accounts, post
    from shop.training.models import AccountKind, LedgerAccount, TransferKind

    app = committed_app
    threads_count = 20
    with app.app_context():
        pairs = []
        for i in range(threads_count):
            source = LedgerAccount(code=f"test-source-{i}", kind=AccountKind.SALE_SHARE_SOURCE,
                                   currency="USD")  # fmt: skip
            target = LedgerAccount(code=f"test-target-{i}", kind=AccountKind.REFUND_LOSS,
                                   currency="USD")  # fmt: skip
            db.session.add_all([source, target])
            db.session.flush()
            pairs.append((source.id, target.id))
        db.session.commit()
    warm_pool(app)
    start = threading.Barrier(threads_count, timeout=60)
    outcomes = [""] * threads_count

    def post_one(i: int) -> None:
        with app.app_context():
            try:
                debit, credit = pairs[i]
                start.wait()  # (SQLite: locking is taking the one write lock, so not before)
                accounts = lock_accounts(ids=[debit, credit])
                post([PlannedTransfer(debit, credit, 100 + i, TransferKind.CORRECTION,
                                      f"test-{i}", "test")], accounts)  # fmt: skip
                db.session.commit()
                outcomes[i] = "posted"
            except Exception as exc:
                db.session.rollback()
                outcomes[i] = f"crashed: {exc!r}"

    threads = [threading.Thread(target=post_one, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert outcomes == ["posted"] * threads_count, [o for o in outcomes if o != "posted"][:3]
    with app.app_context():
        indexes = list(db.session.scalars(select(LogLeaf.index).order_by(LogLeaf.index)))
        assert indexes == list(range(threads_count))
        assert check_log().clean
