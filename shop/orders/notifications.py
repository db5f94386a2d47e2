"""The emails a buyer gets. Call after the commit."""

from __future__ import annotations

from email.message import EmailMessage

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.extensions import db
from shop.mail import build, send_safely
from shop.orders.models import Order
from shop.orders.shares import share_for_training, training_shares
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
