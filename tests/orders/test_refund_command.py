"""`flask orders refund`: a line given without an amount after '=' or named twice is
refused with a clear message, and nothing is refunded."""

from __future__ import annotations

import pytest

from shop.extensions import db
from shop.orders.models import Order, Refund
from shop.orders.payments import payment_succeeded
from tests.orders.conftest import new_order, stocked_variant


def _paid_order():
    variant = stocked_variant(price=2000)
    order = new_order([(variant, 1)])
    payment_succeeded(
        order, gateway_name="dummy", reference="dummy_pi_cli", amount=order.total, currency="USD"
    )
    db.session.commit()
    return order, variant.sku


@pytest.mark.parametrize(
    ("lines", "said"),
    [
        (["{sku}="], "give an amount after '='"),
        (["{sku}=  "], "give an amount after '='"),
        (["{sku}=10", "{sku}=5"], "is given twice"),
        (["{sku}", "{sku}=5"], "is given twice"),
    ],
)
def test_an_empty_or_repeated_line_is_refused_and_nothing_is_refunded(app, ctx, lines, said):
    order, sku = _paid_order()
    args = ["orders", "refund", order.number]
    for line in lines:
        args += ["--line", line.format(sku=sku)]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0 and said in result.output, result.output
    db.session.expire_all()
    assert db.session.get(Order, order.id).refunded_amount == 0
    assert db.session.query(Refund).count() == 0


def test_a_line_without_equals_is_still_refunded_whole(app, ctx):
    order, sku = _paid_order()
    result = app.test_cli_runner().invoke(args=["orders", "refund", order.number, "--line", sku])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Order, order.id).lines[0].refunded_amount == 2000
