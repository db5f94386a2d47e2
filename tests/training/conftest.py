from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.orders.gateways import DummyGateway
from shop.orders.payments import payment_succeeded, start_payment
from shop.orders.refunds import refund_order
from shop.training.models import LedgerAccount
from tests.conftest import client_as, sign_in  # noqa: F401  (sign_in: used by tests importing it from here)
from tests.orders.conftest import new_order


def pay(order):
    """Pay `order` through the dummy gateway's real code path (as its Pay button does)."""
    gateway = DummyGateway()
    payment = start_payment(order, gateway)
    return payment_succeeded(
        order, gateway_name="dummy", reference=payment.reference, amount=order.total,
        currency=order.currency,
    )  # fmt: skip


def paid_order(variants_quantities):
    order = new_order(variants_quantities)
    assert pay(order) == "paid"
    db.session.flush()
    return order


def refund(order, line_amounts=None, **kwargs):
    # The refund service releases the order's lock while the gateway answers (it ends
    # the transaction), so what the test set up is committed first.
    db.session.commit()
    return refund_order(order.id, DummyGateway(), line_amounts=line_amounts, **kwargs).refund


def balance_of(trainee) -> int:
    account = db.session.scalars(
        select(LedgerAccount)
        .where(LedgerAccount.trainee_id == trainee.id)
        .execution_options(populate_existing=True)
    ).one()
    return account.credits_posted - account.debits_posted


def totals() -> tuple[int, int]:
    return db.session.execute(
        select(func.sum(LedgerAccount.debits_posted), func.sum(LedgerAccount.credits_posted))
    ).one()


@pytest.fixture
def staff(ctx):
    from tests import factories as f

    return f.user("staff")


def one_maker_sale(stock: int = 10, sold: int = 1, price: int = 1000, bps: int = 1000):
    """A workshop, one trainee who made a batch of `stock`, and `sold` units paid for."""
    from tests import factories as f

    w = f.workshop()
    product = f.product(w, price=price, impact_share_bps=bps)
    maker = f.trainee(w)
    f.batch(product.variants[0], quantity=stock, makers=[(maker, 1)])
    order = paid_order([(product.variants[0], sold)])
    return maker, product, order


@pytest.fixture
def staff_client(app, ctx):
    """A client signed in as a (new) staff member."""
    return client_as(app, "staff")
