"""The emails a buyer gets. Each is a job recorded with the change that calls for it and
sent by the worker after the commit (an email must never tell of an order the database
then lost, and a crash after the commit must not lose the email)."""

from __future__ import annotations

from email.message import EmailMessage

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop import jobs, mail
from shop.accounts.mailbox_limits import may_email
from shop.extensions import db
from shop.i18n import force_language
from shop.jobs.outbox import JobRun, end_reading
from shop.mail import build
from shop.money import money_text
from shop.orders.checkout import shipping_label
from shop.orders.models import Order, OrderStatus, Refund
from shop.orders.shares import share_after_refunds, share_for_training, training_shares
from shop.web import public_url

CONFIRMATION, SHIPPING_NOTICE, REFUND_NOTICE = (
    "order_confirmation",
    "shipping_notice",
    "refund_notice",
)
PAYMENT_WAITING = "payment_waiting"


def order_link(order: Order) -> str:
    return public_url("orders.order", token=order.token)


def _fresh(order_id: int) -> Order:
    """The order with its lines, read when the email is made."""
    return db.session.scalars(
        select(Order).where(Order.id == order_id).options(selectinload(Order.lines))
    ).one()


def confirmation_message(order: Order, message_id: str | None = None) -> EmailMessage:
    with force_language(order.language):  # every buyer's email: in the order's language
        return _confirmation_message(order, message_id)


def _confirmation_message(order: Order, message_id: str | None) -> EmailMessage:
    return build(
        order.email,
        _(
            "Your order %(number)s from %(store)s",
            number=order.number,
            store=current_app.config["STORE_NAME"],
        ),
        "order_confirmation",
        message_id=message_id,
        order=order,
        link=order_link(order),
        share=share_for_training(order),
        shares=training_shares(order),
    )


def confirm_after_commit(order: Order) -> None:
    """Email the confirmation of `order`, just paid, once its payment is committed."""
    jobs.enqueue(CONFIRMATION, order_id=order.id)


def payment_waiting_after_commit(order: Order) -> None:
    """Email the buyer of `order`, just placed and not paid a few minutes later
    (PAYMENT_REMINDER_MINUTES), a link to finish paying for it: an unpaid order is never
    lost (shop.orders.unpaid). Most buyers pay within the minute, so the reminder waits a
    little, and goes only if the order is still waiting then (see the handler)."""
    minutes = current_app.config["PAYMENT_REMINDER_MINUTES"]
    jobs.enqueue(PAYMENT_WAITING, after_seconds=60 * minutes, order_id=order.id)


def payment_waiting_message(order: Order, message_id: str | None = None) -> EmailMessage:
    with force_language(order.language):
        return _payment_waiting_message(order, message_id)


def _payment_waiting_message(order: Order, message_id: str | None) -> EmailMessage:
    return build(
        order.email,
        _("Order %(number)s is waiting for payment", number=order.number),
        "payment_waiting",
        message_id=message_id,
        order=order,
        link=public_url("orders.pay", token=order.token),
        shipping=shipping_label(order.shipping_method),
    )


@jobs.handler(PAYMENT_WAITING)
def _send_payment_waiting(job: JobRun) -> None:
    order = _fresh(job.payload["order_id"])
    if order.status != OrderStatus.PENDING_PAYMENT:
        return  # paid (or ended) before the email went: nothing is waiting any more
    # Anyone may type any address at checkout, so a reminder counts against the mailbox's
    # share of emails a stranger can cause (shop.accounts.mailbox_limits); over it, none
    # is sent. Counted when it is sent, not when the order was placed: the orders a double
    # click or "Change details" cancelled meanwhile take nothing from the one still open.
    if not may_email(order.email):
        return
    message = payment_waiting_message(order, jobs.message_id(job))
    end_reading()
    mail.deliver(message)


def shipping_notice_after_commit(order_id: int) -> None:
    jobs.enqueue(SHIPPING_NOTICE, order_id=order_id)


def refund_notice_after_commit(refund_id: int | None) -> None:
    """Tell the buyer about one booked refund, once per refund (whoever booked it first:
    the back office, the command or the webhook)."""
    if refund_id is not None:
        jobs.enqueue(REFUND_NOTICE, refund_id=refund_id)


@jobs.handler(CONFIRMATION)
def _send_confirmation(job: JobRun) -> None:
    message = confirmation_message(_fresh(job.payload["order_id"]), jobs.message_id(job))
    end_reading()
    mail.deliver(message)


@jobs.handler(SHIPPING_NOTICE)
def _send_shipping_notice(job: JobRun) -> None:
    order = _fresh(job.payload["order_id"])
    with force_language(order.language):
        message = build(
            order.email,
            _("Order %(number)s is on its way", number=order.number),
            "shipping_notice",
            message_id=jobs.message_id(job),
            order=order,
            link=order_link(order),
        )
    end_reading()
    mail.deliver(message)


def refund_message(refund_id: int, message_id: str | None = None) -> EmailMessage | None:
    """The notice of one booked refund; None for a refund of no new money (booked
    before, under another refund)."""
    refund = db.session.get(Refund, refund_id)
    if refund is None or refund.amount <= 0:
        return None
    order = _fresh(refund.order_id)
    with force_language(order.language):
        return _refund_message(order, refund, message_id)


def _refund_message(order: Order, refund: Refund, message_id: str | None) -> EmailMessage:
    return build(
        order.email,
        _(
            "Refund of %(amount)s on order %(number)s",
            amount=money_text(refund.amount, order.currency),
            number=order.number,
        ),
        "refund_notice",
        message_id=message_id,
        order=order,
        amount=refund.amount,
        after=share_after_refunds(order),
        link=order_link(order),
    )


@jobs.handler(REFUND_NOTICE)
def _send_refund_notice(job: JobRun) -> None:
    message = refund_message(job.payload["refund_id"], jobs.message_id(job))
    end_reading()
    if message is not None:
        mail.deliver(message)
