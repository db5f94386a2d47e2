"""Messages written in code (flashes, review notes) show money as the store shows it
everywhere: "$15.00", never "1500" cents."""

from __future__ import annotations

import re

from shop.extensions import db
from shop.orders.gateway_events import handle_gateway_event
from shop.orders.gateways import GatewayEvent, GatewayRefund
from shop.orders.models import Order
from shop.orders.payments import payment_succeeded
from tests.confirming import confirmed
from tests.conftest import client_as
from tests.orders.conftest import new_order, stocked_variant


def _paid(price: int = 1500, reference: str = "dummy_pi_m"):
    order = new_order([(stocked_variant(price=price), 1)])
    payment_succeeded(
        order, gateway_name="dummy", reference=reference, amount=order.total, currency="USD"
    )
    db.session.commit()
    return order


def test_an_admin_refunding_too_much_is_told_the_amounts_in_dollars(app, ctx):
    order = _paid()
    admin = client_as(app, "admin")
    line_id = order.lines[0].id
    page = confirmed(
        admin,
        f"/admin/orders/{order.id}/refund/confirm",
        data={"request_key": "much", f"line-{line_id}": "20.00"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "at most $15.00 can still be refunded, not $20.00" in page
    shown = re.sub(r"<[^>]+>", " ", page)  # what is read (a form's maxlength="2000" is not)
    assert "1500" not in shown and "2000" not in shown


def test_a_payment_of_the_wrong_amount_is_noted_in_dollars(app, ctx):
    order = new_order([(stocked_variant(price=1500), 1)])
    db.session.commit()
    payment_succeeded(order, gateway_name="dummy", reference="dummy_pi_w", amount=1234,
                      currency="usd")  # fmt: skip
    db.session.commit()
    page = client_as(app, "admin").get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "was $12.34, but the order is $" in page and "1234" not in page


def test_a_gateway_refund_above_what_was_left_is_noted_in_dollars(app, ctx):
    order = _paid(reference="dummy_pi_o")
    left = order.total
    event = GatewayEvent("evt_over", "refunds_changed", "dummy_pi_o",
                         refunds=(GatewayRefund("re_over", left + 500, "succeeded"),))  # fmt: skip
    handle_gateway_event("dummy", event)
    db.session.commit()
    reason = db.session.get(Order, order.id).review_reason
    assert f"refunded ${(left + 500) / 100:.2f} in re_over" in reason
    assert f"only ${left / 100:.2f} was left" in reason


def test_ledger_verify_names_the_difference_in_dollars(app, ctx):
    from sqlalchemy import update

    from shop.training.ledger import ensure_accounts
    from shop.training.models import LedgerAccount
    from shop.training.reports import verify

    ensure_accounts()
    db.session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.code == "refund_loss")
        .values(credits_posted=LedgerAccount.credits_posted + 150)
    )
    problems = " ".join(verify().problems)
    assert "refund_loss: credits_posted $1.50 but its transfers sum to $0.00" in problems
    assert "differ from total credits $" in problems and "150" not in problems
