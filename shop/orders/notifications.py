"""The emails a buyer gets, sent once the unit of work that calls for them has committed
(an email must never tell of an order the database then lost)."""

from __future__ import annotations

from email.message import EmailMessage

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.extensions import db
from shop.mail import build, send_safely
from shop.money import money_text
from shop.orders.models import Order, Refund
from shop.orders.shares import share_after_refunds, share_for_training, training_shares
from shop.unit_of_work import after_commit
from shop.web import public_url


def order_link(order: Order) -> str:
    return public_url("orders.order", token=order.token)


def _fresh(order_id: int) -> Order:
    """The order with its lines, read after the commit that changed it."""
    return db.session.scalars(
        select(Order).where(Order.id == order_id).options(selectinload(Order.lines))
    ).one()


def confirmation_message(order: Order) -> EmailMessage:
    """Render before the commit (the order is loaded); send after it."""
    return build(
        order.email,
        f"Your order {order.number} from {current_app.config['STORE_NAME']}",
        "order_confirmation",
        order=order,
        link=order_link(order),
        share=share_for_training(order),
        shares=training_shares(order),
    )


def send_confirmation(message: EmailMessage, number: str) -> bool:
    return send_safely(message, f"the confirmation of order {number}")


def confirm_after_commit(order: Order) -> None:
    """Email the confirmation of `order`, just paid, once its payment is committed."""
    message, number = confirmation_message(order), order.number
    after_commit(lambda: send_confirmation(message, number))


def shipping_notice_after_commit(order_id: int) -> None:
    after_commit(lambda: send_shipping_notice(order_id))


def refund_notice_after_commit(refund_id: int | None) -> None:
    if refund_id is not None:
        after_commit(lambda: send_refund_notice(refund_id))


def send_shipping_notice(order_id: int) -> bool:
    order = _fresh(order_id)
    message = build(
        order.email,
        f"Order {order.number} is on its way",
        "shipping_notice",
        order=order,
        link=order_link(order),
    )
    return send_safely(message, f"the shipping notice of order {order.number}")


def send_refund_notice(refund_id: int) -> bool:
    """Tell the buyer about one booked refund; call after the commit, once per refund
    (whoever booked it first: the back office, the command or the webhook)."""
    refund = db.session.get(Refund, refund_id)
    if refund is None or refund.amount <= 0:  # money booked before, under another refund
        return False
    order = _fresh(refund.order_id)
    message = build(
        order.email,
        f"Refund of {money_text(refund.amount, order.currency)} on order {order.number}",
        "refund_notice",
        order=order,
        amount=refund.amount,
        after=share_after_refunds(order),
        link=order_link(order),
    )
    return send_safely(message, f"a refund notice of order {order.number}")
