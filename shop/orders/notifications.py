"""The emails a buyer gets. Call after the commit."""

from __future__ import annotations

from flask import current_app, url_for

from shop.mail import build, send_safely
from shop.orders.models import Order
from shop.orders.services import share_for_training


def order_link(order: Order) -> str:
    base = current_app.config.get("PUBLIC_BASE_URL")
    path = url_for("orders.order", token=order.token)
    return base + path if base else url_for("orders.order", token=order.token, _external=True)


def send_order_confirmation(order: Order) -> bool:
    message = build(
        order.email,
        f"Your order {order.number} from {current_app.config['STORE_NAME']}",
        "order_confirmation",
        order=order,
        link=order_link(order),
        share=share_for_training(order),
    )
    return send_safely(message, f"the confirmation of order {order.number}")


def send_shipping_notice(order: Order) -> bool:
    message = build(
        order.email,
        f"Order {order.number} is on its way",
        "shipping_notice",
        order=order,
        link=order_link(order),
    )
    return send_safely(message, f"the shipping notice of order {order.number}")
