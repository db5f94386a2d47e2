"""An unpaid order is never lost.

"Place order and pay" empties the cart, so a buyer who goes Back to fix the address
would find an empty cart while the stock is held for them. The session remembers the
order it placed (its token) until it is paid; the cart page, where Back and the header's
Cart link lead, then offers to finish paying or to change the details, and the buyer is
emailed a link to the pay page (shop.orders.notifications).

Changing the details ends the order (its holds go back) and puts its lines back in the
cart, with the checkout form filled in from it. An order whose payment started is ended
only once the gateway stopped that payment: until then it could still take money, and
such an order is never replaced (the rule of shop.orders.holds.end_unpaid).

Services flush and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime

from babel.dates import format_time
from flask_babel import gettext as _
from sqlalchemy import exists, select, update

from shop.extensions import db
from shop.i18n import locale_code
from shop.orders import cart as carts
from shop.orders.addresses import COLUMNS
from shop.orders.checkout import looks_like_token
from shop.orders.holds import PAYMENT_STARTED, end_unpaid
from shop.orders.models import Order, OrderStatus, Payment, PaymentStatus
from shop.orders.states import PAID_STATES
from shop.timeutil import utcnow

SESSION_KEY = "unpaid_order"  # the token of the order this session placed and has not paid
PREFILL_KEY = "checkout_from"  # the token of the order whose details fill the checkout
# The checkout form's fields, from the order's columns.
PREFILLED = {
    "email": "email",
    **{column: column for column in COLUMNS if column != "country_code"},
    "country": "country_code",
    "shipping_method": "shipping_method",
}


class ChangeRefused(Exception):
    """The order's details cannot be changed; the message is for the buyer."""


@dataclass(frozen=True)
class Remembered:
    """The session's unpaid order as the cart page shows it: plain values."""

    token: str
    number: str
    status: OrderStatus
    total: int
    currency: str
    reserved_until: datetime
    payment_started: bool = False  # a payment that may still take money (holds.PAYMENT_STARTED)

    @property
    def waiting(self) -> bool:
        """Still waiting for payment with its items held (not yet run out)."""
        until = self.reserved_until
        until = until if until.tzinfo else until.replace(tzinfo=UTC)
        return self.status == OrderStatus.PENDING_PAYMENT and until >= utcnow()

    @property
    def replaced_by_checkout(self) -> bool:
        """Whether placing another order from this session cancels it (as
        shop.orders.checkout.place_order does, unless its payment has started)."""
        return self.waiting and not self.payment_started


def _token(session: MutableMapping, key: str) -> str | None:
    token = session.get(key)
    return token if isinstance(token, str) and looks_like_token(token) else None


def placed(session: MutableMapping, order: Order) -> None:
    """The checkout placed `order` and emptied the cart: remember it."""
    session[SESSION_KEY] = order.token
    session.pop(PREFILL_KEY, None)


def forget(session: MutableMapping, token: str | None = None) -> None:
    """Forget the remembered order (only if it is `token`, when given)."""
    if token is None or session.get(SESSION_KEY) == token:
        session.pop(SESSION_KEY, None)


def remembers_one(session: MutableMapping) -> bool:
    return _token(session, SESSION_KEY) is not None


def remembered(session: MutableMapping) -> Remembered | None:
    """The order this session placed and has not paid, in one statement (none when
    nothing is remembered). A paid order is forgotten at once; one that ended unpaid
    (expired, cancelled) is shown this once, then forgotten."""
    token = _token(session, SESSION_KEY)
    if token is None:
        forget(session)
        return None
    row = _remembered_row(token)
    if row is None or row.status != OrderStatus.PENDING_PAYMENT:
        forget(session)
    if row is None or row.status in PAID_STATES:
        return None
    return Remembered(*row)


def waiting_at_checkout(session: MutableMapping) -> Remembered | None:
    """The order this session placed that still waits for payment with its items held, for
    the checkout page to say what placing another order does to it; None when there is
    none. One statement at most; it only reads (the cart page tells of one that ended)."""
    token = _token(session, SESSION_KEY)
    row = _remembered_row(token) if token is not None else None
    found = Remembered(*row) if row is not None else None
    return found if found is not None and found.waiting else None


def _remembered_row(token: str):
    started = exists().where(Payment.order_id == Order.id, PAYMENT_STARTED)
    return db.session.execute(
        select(
            Order.token, Order.number, Order.status, Order.total, Order.currency,
            Order.reserved_until, started.label("payment_started"),
        ).where(Order.token == token)
    ).one_or_none()  # fmt: skip


def checkout_details(session: MutableMapping) -> dict[str, str] | None:
    """The checkout form's values from the order whose details are being changed, in
    one statement; None when there is none."""
    token = _token(session, PREFILL_KEY)
    if token is None:
        return None
    columns = [getattr(Order, column) for column in PREFILLED.values()]
    row = db.session.execute(select(*columns).where(Order.token == token)).one_or_none()
    if row is None:
        return None
    return {name: value for name, value in zip(PREFILLED, row, strict=True) if value}


def started_payments(order: Order) -> list[str]:
    """References of the order's payments that started and may still take money
    (`order.payments` loaded)."""
    return [p.reference for p in order.payments if p.status == PaymentStatus.PENDING]


def reopen(session: MutableMapping, order: Order, stopped: Iterable[str] = ()) -> None:
    """Change the details of `order` (locked by the caller, with its lines): end it if
    it is still unpaid, put its lines back in the cart and fill the checkout in from it.
    `stopped` are references of its payments the gateway has just stopped (they can no
    longer take money); a payment that started and was not stopped keeps the order as it
    is (ChangeRefused), as a new checkout keeps it (shop.orders.holds.end_unpaid)."""
    if order.status in PAID_STATES:
        raise ChangeRefused(
            _(
                "Order %(number)s is paid already, so it can't be changed here. If something "
                "is wrong with it, please write to us.",
                number=order.number,
            )
        )
    lines = [(line.variant_id, line.quantity) for line in order.lines]  # before end_unpaid
    if order.status == OrderStatus.PENDING_PAYMENT:  # reloads the order (populate_existing)
        stopped = sorted(set(stopped))
        if stopped:
            db.session.execute(
                update(Payment)
                .where(
                    Payment.order_id == order.id,
                    Payment.reference.in_(stopped),
                    Payment.status == PaymentStatus.PENDING,
                )
                .values(status=PaymentStatus.FAILED)
                .execution_options(synchronize_session=False)
            )
        end_unpaid([order.id], OrderStatus.CANCELLED, "the buyer changed its details",
                   keep_started_payments=True)  # fmt: skip
        if order.status == OrderStatus.PENDING_PAYMENT:  # kept: a payment may take money
            raise ChangeRefused(
                _(
                    "Your payment for order %(number)s is already under way, so the order "
                    "can't be changed now. If the payment does not go through, its items are "
                    "released at %(time)s UTC and nothing is charged.",
                    number=order.number,
                    time=format_time(
                        order.reserved_until, "HH:mm", tzinfo=UTC, locale=locale_code()
                    ),
                )
            )
    cart = carts.read(session)
    for variant_id, quantity in lines:
        # The larger of the two, not the sum: a buyer who found the cart empty and added
        # the same things again does not end up with twice as many.
        cart[variant_id] = max(cart.get(variant_id, 0), quantity)
    carts.write(session, cart)
    session[PREFILL_KEY] = order.token
    forget(session, order.token)


def closed_message(order: Order) -> str:
    """Why an order that was not paid can no longer be paid for."""
    if order.status == OrderStatus.EXPIRED:
        return _(
            "Order %(number)s was not paid in time, so its items went back on sale and "
            "nothing was charged.",
            number=order.number,
        )
    return _("Order %(number)s was cancelled, and nothing was charged for it.", number=order.number)


__all__ = [
    "ChangeRefused", "Remembered", "checkout_details", "placed", "remembered", "reopen",
    "waiting_at_checkout",
]  # fmt: skip
