"""Placing orders: the cart priced on the server, stock held while the buyer
pays, and holds given back when they run out or the order is cancelled.
Services flush and never commit."""

from __future__ import annotations

import re
import secrets
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.orm import selectinload

from shop.catalog.models import StockMovement, StockMovementKind, Variant
from shop.catalog.services import move_stock, take_stock
from shop.extensions import db
from shop.orders import cart as carts
from shop.orders.models import (
    Order,
    OrderLine,
    OrderStatus,
    Reservation,
    ReservationStatus,
)
from shop.orders.states import transition
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


def shipping_methods() -> list[ShippingMethod]:
    """From SHIPPING_RATES: 'code:Label:cents,…'."""
    methods = []
    for item in current_app.config["SHIPPING_RATES"].split(","):
        code, label, cents = item.split(":")
        methods.append(ShippingMethod(code.strip(), label.strip(), int(cents)))
    return methods


def new_order_number() -> str:
    return "MK-" + "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))


def release_expired(now: datetime, variant_ids: list[int] | None = None) -> int:
    """Give back the stock of reservations that ran out; expire their orders.

    Each reservation is claimed with a conditional UPDATE, so two checkouts
    sweeping at once can never release the same units twice.
    """
    query = select(Reservation).where(
        Reservation.status == ReservationStatus.HELD, Reservation.expires_at < now
    )
    if variant_ids is not None:
        query = query.where(Reservation.variant_id.in_(variant_ids))
    expired = db.session.scalars(query.order_by(Reservation.variant_id, Reservation.id)).all()
    released = 0
    for reservation in expired:
        claimed = db.session.execute(
            update(Reservation)
            .where(Reservation.id == reservation.id, Reservation.status == ReservationStatus.HELD)
            .values(status=ReservationStatus.RELEASED)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            continue
        variant = db.session.get(Variant, reservation.variant_id)
        move_stock(
            variant, reservation.quantity, StockMovementKind.RELEASE, reason="reservation expired"
        )
        order = db.session.get(Order, reservation.order_id)
        if order.status == OrderStatus.PENDING_PAYMENT:
            transition(order, OrderStatus.EXPIRED)
        released += 1
    return released


def place_order(
    cart: MutableMapping,
    buyer: BuyerDetails,
    *,
    gateway_name: str,
    currency: str,
    now: datetime | None = None,
    user_id: int | None = None,
) -> Order:
    """Create a pending order from the session cart and reserve its stock.

    Holds that ran out on these variants are released first, so the stock they
    kept back is there to be sold again.
    """
    now = now or utcnow()
    release_expired(now, sorted(carts.read(cart)))
    priced = carts.price(cart, currency)
    if priced.is_empty:
        raise CheckoutError("Your cart is empty.")
    if priced.problems:
        raise CheckoutError(" ".join(priced.problems))
    method = next((m for m in shipping_methods() if m.code == buyer.shipping_method), None)
    if method is None:
        raise CheckoutError("Please choose a shipping method.")
    if {line.currency for line in priced.lines} != {priced.currency}:
        raise CheckoutError("Your cart mixes currencies; please contact us.")

    variant_ids = sorted(line.variant_id for line in priced.lines)
    minutes = current_app.config["RESERVATION_MINUTES"]
    order = Order(
        user_id=user_id,
        number=new_order_number(),
        token=secrets.token_urlsafe(32),
        email=buyer.email,
        name=buyer.name,
        address_line1=buyer.address_line1,
        address_line2=buyer.address_line2,
        city=buyer.city,
        postal_code=buyer.postal_code,
        country_code=buyer.country_code,
        shipping_method=method.code,
        currency=priced.currency,
        subtotal=priced.subtotal,
        shipping=method.price,
        total=priced.subtotal + method.price,
        gateway=gateway_name,
        reserved_until=now + timedelta(minutes=minutes),
    )
    db.session.add(order)
    db.session.flush()
    # Take stock in variant-id order, so concurrent checkouts never deadlock.
    by_variant = {line.variant_id: line for line in priced.lines}
    movements, reservations = [], []
    for variant_id in variant_ids:
        line = by_variant[variant_id]
        stock_after = take_stock(variant_id, -line.quantity)
        if stock_after is None:
            available = (
                db.session.scalar(select(Variant.stock).where(Variant.id == variant_id)) or 0
            )
            if available == 0:
                raise CheckoutError(f"Sorry, {line.product_name} has just sold out.")
            raise CheckoutError(
                f"Sorry, only {available} of {line.product_name} left; please lower the quantity."
            )
        movements.append(
            {"variant_id": variant_id, "quantity": -line.quantity, "kind": StockMovementKind.RESERVATION,
             "reason": order.number, "stock_after": stock_after, "batch_id": None, "created_at": now}
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


def cancel_unpaid(order: Order) -> None:
    transition(order, OrderStatus.CANCELLED)
    _release_held(order, "order cancelled")


def _release_held(order: Order, reason: str) -> None:
    for reservation in order.reservations:
        if reservation.status == ReservationStatus.HELD:
            reservation.status = ReservationStatus.RELEASED
            move_stock(
                db.session.get(Variant, reservation.variant_id),
                reservation.quantity,
                StockMovementKind.RELEASE,
                reason=reason,
            )
