"""Placing orders: the cart priced on the server and stock held while the buyer
pays (how long, and giving holds back: shop.orders.holds). Services flush and
never commit."""

from __future__ import annotations

import re
import secrets
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import selectinload

from shop.catalog.models import StockMovement, StockMovementKind
from shop.catalog.services import change_stock, stock_level
from shop.extensions import db
from shop.i18n import current_language
from shop.orders import cart as carts
from shop.orders.holds import cancel_unpaid, end_unpaid, release_expired
from shop.orders.models import (
    Order,
    OrderLine,
    OrderStatus,
    Reservation,
    ReservationStatus,
)
from shop.timeutil import utcnow

NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L


class CheckoutError(ValueError):
    """The order cannot be placed as it stands; the message is for the buyer."""


@dataclass(frozen=True)
class ShippingMethod:
    code: str
    label: str
    price: int


@dataclass(frozen=True)
class BuyerDetails:
    email: str
    name: str
    address_line1: str
    address_line2: str
    city: str
    postal_code: str
    country_code: str
    shipping_method: str
    # Where the country uses them (shop.orders.addresses checks them at the checkout).
    country_area: str = ""
    city_area: str = ""
    sorting_code: str = ""


# The default methods' names (shop/config.py) in the reader's language; a name an operator
# wrote into SHIPPING_RATES is shown as written (no catalog knows it).
_DEFAULT_NAMES = {
    "Standard post (7 to 14 days)": _l("Standard post (7 to 14 days)"),
    "Express courier (3 to 5 days)": _l("Express courier (3 to 5 days)"),
}


def shipping_methods() -> list[ShippingMethod]:
    """From SHIPPING_RATES: 'code:Label:cents,…'."""
    methods = []
    for item in current_app.config["SHIPPING_RATES"].split(","):
        code, label, cents = item.split(":")
        label = label.strip()
        methods.append(
            ShippingMethod(code.strip(), str(_DEFAULT_NAMES.get(label, label)), int(cents))
        )
    return methods


def shipping_label(code: str) -> str:
    """How a shipping method is named to the buyer (its code if it is no longer offered)."""
    return next((m.label for m in shipping_methods() if m.code == code), code)


def new_order_number() -> str:
    return "MK-" + "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))


def _held(who, now: datetime) -> int:
    """Units held, and still running, for unpaid orders matching `who` (a condition)."""
    return db.session.scalar(
        select(func.coalesce(func.sum(Reservation.quantity), 0))
        .join(Order, Order.id == Reservation.order_id)
        .where(
            who,
            Order.status == OrderStatus.PENDING_PAYMENT,
            Reservation.status == ReservationStatus.HELD,
            Reservation.expires_at >= now,
        )
    )


def _check_hold_limits(
    units: int, key: str, user_id: int | None, client: str | None, now: datetime
) -> None:
    """Nobody holds much stock without paying: an order holds at most
    MAX_UNITS_PER_ORDER units; one buyer at most MAX_HELD_UNITS_PER_SESSION at once (a
    session's new checkout replaces its unpaid orders, see place_order, but an account
    may have several sessions, so their holds are added up); and one client address at
    most MAX_HELD_UNITS_PER_ADDRESS, so a script that drops its cookie each time cannot
    hold more than that either (an address may be shared, hence a larger cap)."""
    problem = carts.order_size_problem(units)
    if problem:
        raise CheckoutError(problem)
    per_buyer = current_app.config["MAX_HELD_UNITS_PER_SESSION"]
    mine = Order.checkout_key == key
    elsewhere = _held(mine if user_id is None else or_(mine, Order.user_id == user_id), now)
    if elsewhere + units > per_buyer:
        raise CheckoutError(
            ngettext(
                "%(num)d items are already held for another unpaid order of yours, and at most "
                "%(most)d can be held for you at once; please pay for that order first, or wait "
                "until its hold runs out.",
                "%(num)d items are already held for another unpaid order of yours, and at most "
                "%(most)d can be held for you at once; please pay for that order first, or wait "
                "until its hold runs out.",
                elsewhere,
                most=per_buyer,
            )
        )
    per_address = current_app.config["MAX_HELD_UNITS_PER_ADDRESS"]
    if client and _held(Order.client_digest == client, now) + units > per_address:
        raise CheckoutError(
            _(
                "Too many items are held for unpaid orders placed from your network just now, "
                "so this order was not placed and nothing is held. Please pay for an order you "
                "left unpaid, or try again in a few minutes."
            )
        )


def place_order(
    cart: MutableMapping,
    buyer: BuyerDetails,
    *,
    gateway_name: str,
    currency: str,
    now: datetime | None = None,
    user_id: int | None = None,
    client: str | None = None,
) -> Order:
    """Create a pending order from the session cart and hold its stock.

    First, holds that ran out on these variants are released (with the rest of
    their orders' holds), and so are the holds of this session's earlier unpaid
    orders, found on the server by the session's checkout key: a new checkout
    replaces them (a buyer who comes back to change the cart leaves the old order
    behind; nobody can pile up holds from one session, not by replaying its cookie
    either), except an order whose payment has started: it may still be paid in another
    tab, so it keeps its hold until its payment window ends. `client` is the digest of the buyer's address (shop.rate_limits), for
    the per-address cap; None where there is no client (commands, the demo).
    """
    now = now or utcnow()
    key = carts.checkout_key(cart)
    release_expired(now, sorted(carts.read(cart)))
    own = db.session.scalars(
        select(Order.id).where(
            Order.checkout_key == key, Order.status == OrderStatus.PENDING_PAYMENT
        )
    ).all()
    end_unpaid(sorted(own), OrderStatus.CANCELLED, "replaced by a newer checkout",
               keep_started_payments=True)  # fmt: skip
    priced = carts.price(cart, currency)
    if priced.is_empty:
        raise CheckoutError(_("Your cart is empty."))
    if priced.problems:
        raise CheckoutError(" ".join(priced.problems))
    method = next((m for m in shipping_methods() if m.code == buyer.shipping_method), None)
    if method is None:
        raise CheckoutError(_("Please choose a shipping method."))
    if {line.currency for line in priced.lines} != {priced.currency}:
        raise CheckoutError(_("Your cart mixes currencies; please contact us."))
    _check_hold_limits(priced.item_count, key, user_id, client, now)

    variant_ids = sorted(line.variant_id for line in priced.lines)
    minutes = current_app.config["RESERVATION_MINUTES"]
    order = Order(
        user_id=user_id,
        checkout_key=key,
        client_digest=client,
        number=new_order_number(),
        token=secrets.token_urlsafe(32),
        email=buyer.email,
        name=buyer.name,
        address_line1=buyer.address_line1,
        address_line2=buyer.address_line2,
        city=buyer.city,
        postal_code=buyer.postal_code,
        country_code=buyer.country_code,
        country_area=buyer.country_area,
        city_area=buyer.city_area,
        sorting_code=buyer.sorting_code,
        shipping_method=method.code,
        currency=priced.currency,
        subtotal=priced.subtotal,
        shipping=method.price,
        total=priced.subtotal + method.price,
        gateway=gateway_name,
        language=current_language().code,
        created_at=now,  # the hold's clock (holds.hold_for_payment) starts here
        reserved_until=now + timedelta(minutes=minutes),
    )
    db.session.add(order)
    db.session.flush()
    # Hold stock in variant-id order, so concurrent checkouts never deadlock.
    by_variant = {line.variant_id: line for line in priced.lines}
    movements, reservations = [], []
    for variant_id in variant_ids:
        line = by_variant[variant_id]
        level = change_stock(variant_id, StockMovementKind.RESERVATION, -line.quantity)
        if level is None:
            available = stock_level(variant_id).available
            if available <= 0:
                raise CheckoutError(
                    _("Sorry, %(product)s has just sold out.", product=line.product_name)
                )
            raise CheckoutError(
                ngettext(
                    "Sorry, only %(num)d of %(product)s left; please lower the quantity.",
                    "Sorry, only %(num)d of %(product)s left; please lower the quantity.",
                    available,
                    product=line.product_name,
                )
            )
        movements.append(
            {"variant_id": variant_id, "quantity": -line.quantity, "kind": StockMovementKind.RESERVATION,
             "reason": order.number, "stock_after": level.on_hand, "reserved_after": level.reserved,
             "batch_id": None, "created_at": now}
        )  # fmt: skip
        reservations.append(
            {"order_id": order.id, "variant_id": variant_id, "quantity": line.quantity,
             "status": ReservationStatus.HELD, "expires_at": order.reserved_until}
        )  # fmt: skip
    # One statement each, whatever the size of the cart.
    db.session.execute(
        insert(OrderLine),
        [
            {"order_id": order.id, "variant_id": line.variant_id, "product_name": line.product_name,
             "options_label": line.options_label, "sku": line.sku, "unit_price": line.unit_price,
             "quantity": line.quantity, "line_total": line.line_total,
             "impact_share_bps": line.impact_share_bps, "workshop_id": line.workshop_id,
             "refunded_amount": 0}
            for line in priced.lines
        ],
    )  # fmt: skip
    db.session.execute(insert(StockMovement), movements)
    db.session.execute(insert(Reservation), reservations)
    return order


TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,64}")


def looks_like_token(token: str) -> bool:
    """Only what token_urlsafe makes reaches the database."""
    return bool(token) and TOKEN_RE.fullmatch(token) is not None


def order_by_token(token: str, *, for_payment: bool = False) -> Order | None:
    """The order behind a guest's link, with its lines; locked, with its
    payments, when it is about to be paid."""
    if not looks_like_token(token):
        return None
    query = select(Order).where(Order.token == token).options(selectinload(Order.lines))
    if for_payment:
        query = query.options(selectinload(Order.payments)).with_for_update()
    return db.session.scalars(query).one_or_none()


__all__ = ["CheckoutError", "cancel_unpaid", "place_order", "release_expired"]
