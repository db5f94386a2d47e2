"""The cart: variant ids and quantities in the session, priced on the server."""

from __future__ import annotations

import re
import secrets
from collections.abc import MutableMapping
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from shop.catalog.models import Product, ProductImage, ProductStatus, Variant
from shop.catalog.services import with_lapsed_holds
from shop.extensions import db
from shop.orders.holds import release_expired
from shop.timeutil import utcnow
from shop.web import signed_whole_number

SESSION_KEY = "cart"
CHECKOUT_KEY = "checkout_key"  # which orders on the server are this session's own
CHECKOUT_KEY_RE = re.compile(r"[A-Za-z0-9_-]{16,32}")
MAX_LINES = 50
MAX_QUANTITY = 99


class CartError(ValueError):
    """A cart change that cannot be made; the message is for the shopper."""


@dataclass(frozen=True)
class CartLine:
    variant_id: int
    sku: str
    product_name: str
    product_slug: str
    options_label: str
    unit_price: int
    currency: str
    quantity: int
    available: int
    impact_share_bps: int
    workshop_id: int
    problem: str | None
    image_key: str | None = None  # the product's first picture, for the cart's cards
    image_widths: str | None = None  # of its responsive copies (shop.catalog.images)

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class PricedCart:
    lines: list[CartLine]
    currency: str
    messages: list[str]  # lines that were dropped, and why

    @property
    def subtotal(self) -> int:
        return sum(line.line_total for line in self.lines)

    @property
    def problems(self) -> list[str]:
        return [line.problem for line in self.lines if line.problem]

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


def read(session: MutableMapping) -> dict[int, int]:
    raw = session.get(SESSION_KEY) or {}
    cart = {}
    for key, quantity in raw.items():
        try:
            cart[int(key)] = int(quantity)
        except (TypeError, ValueError):
            continue
    return cart


def write(session: MutableMapping, cart: dict[int, int]) -> None:
    session[SESSION_KEY] = {str(k): v for k, v in cart.items() if v > 0}
    checkout_key(session)  # a cookie that carries a cart carries its key (it may be replayed)


def checkout_key(session: MutableMapping) -> str:
    """The browser session's checkout key: random, set once, with the first cart. Its
    unpaid orders carry it, so a session's open orders are found on the server, and a
    replayed copy of an old cookie finds them all the same (shop.orders.checkout)."""
    key = session.get(CHECKOUT_KEY)
    if not isinstance(key, str) or not CHECKOUT_KEY_RE.fullmatch(key):
        key = session[CHECKOUT_KEY] = secrets.token_urlsafe(16)
    return key


def parse_quantity(text: str | None) -> int:
    quantity = signed_whole_number(text)  # ASCII digits only: int() would also read '٣' as 3
    if quantity is None:
        raise CartError(_("Please enter a whole number of items, with the digits 0-9."))
    if not 1 <= quantity <= MAX_QUANTITY:
        raise CartError(_("Please choose between 1 and %(most)d items.", most=MAX_QUANTITY))
    return quantity


def _buyable_problem(variant: Variant | None, quantity: int) -> str | None:
    if variant is None:
        return _("This item is no longer in the shop.")
    product = variant.product
    if product.status != ProductStatus.ACTIVE:
        return _("%(product)s is no longer sold.", product=product.name)
    if product.workshop.is_suspended:
        return _("%(product)s can't be bought at the moment.", product=product.name)
    if variant.buyable <= 0:
        return _("%(product)s (%(option)s) has sold out.", product=product.name,
                 option=variant.options_label or variant.sku)  # fmt: skip
    if quantity > variant.buyable:
        return ngettext("Only %(num)d of %(product)s left; please lower the quantity.",
                        "Only %(num)d of %(product)s left; please lower the quantity.",
                        variant.buyable, product=product.name)  # fmt: skip
    return None


def order_size_problem(units: int) -> str | None:
    """An order holds stock while the buyer pays, so its size is capped
    (MAX_UNITS_PER_ORDER): nobody can take a whole shelf off sale without paying."""
    most = current_app.config["MAX_UNITS_PER_ORDER"]
    if units > most:
        return _(
            "An order can hold at most %(most)d items while you pay, and this would make "
            "%(units)d; please lower the quantities (for a larger order, please write to us).",
            most=most, units=units,
        )  # fmt: skip
    return None


def _variants_query(ids):
    return (
        select(Variant)
        .join(Variant.product)
        .join(Product.workshop)
        .where(Variant.id.in_(ids))
        .options(
            contains_eager(Variant.product).contains_eager(Product.workshop),
            with_lapsed_holds(),
        )
        .execution_options(populate_existing=True)  # the counts as they are now
    )


def load_variants(ids) -> dict[int, Variant]:
    """Variants with their product and workshop, and the units whose hold ran out
    (Variant.buyable), in one statement."""
    if not ids:
        return {}
    return {v.id: v for v in db.session.scalars(_variants_query(ids))}


def _with_pictures(ids) -> dict[int, tuple[Variant, str | None, str | None]]:
    """As load_variants, with each product's first picture (Product.images' order), still
    in one statement: the cart shows a thumbnail per line."""
    if not ids:
        return {}
    first = (
        select(ProductImage.id)
        .where(ProductImage.product_id == Product.id)
        .order_by(ProductImage.position, ProductImage.id)
        .limit(1)
        .correlate(Product)
        .scalar_subquery()
    )
    rows = db.session.execute(
        _variants_query(ids)
        .outerjoin(ProductImage, ProductImage.id == first)
        .add_columns(ProductImage.filename, ProductImage.derivative_widths)
    )
    return {variant.id: (variant, key, widths) for variant, key, widths in rows}


def _release_ran_out(variant_id: int) -> None:
    """A cart change is a write: holds that ran out on this variant are released first
    (whole orders, on every variant), so the units a buyer was shown are really free."""
    release_expired(utcnow(), [variant_id])


def add(session: MutableMapping, variant_id: int, quantity: int) -> Variant:
    """Add to the cart, refusing what cannot be bought. Returns the variant. Releases
    holds that ran out on the variant first (flushed; the caller commits)."""
    _release_ran_out(variant_id)
    cart = read(session)
    variant = load_variants([variant_id]).get(variant_id)
    new_quantity = cart.get(variant_id, 0) + quantity
    problem = _buyable_problem(variant, new_quantity)
    if problem:
        raise CartError(problem)
    if variant_id not in cart and len(cart) >= MAX_LINES:
        raise CartError(_("A cart holds at most %(most)d different items.", most=MAX_LINES))
    problem = order_size_problem(sum(cart.values()) + quantity)
    if problem:
        raise CartError(problem)
    cart[variant_id] = new_quantity
    write(session, cart)
    return variant


def set_quantity(session: MutableMapping, variant_id: int, quantity: int) -> None:
    cart = read(session)
    if variant_id not in cart:
        raise CartError(_("That item is not in your cart."))
    _release_ran_out(variant_id)
    problem = _buyable_problem(
        load_variants([variant_id]).get(variant_id), quantity
    ) or order_size_problem(sum(cart.values()) - cart[variant_id] + quantity)
    if problem:
        raise CartError(problem)
    cart[variant_id] = quantity
    write(session, cart)


def remove(session: MutableMapping, variant_id: int) -> None:
    cart = read(session)
    cart.pop(variant_id, None)
    write(session, cart)


def price(session: MutableMapping, currency: str) -> PricedCart:
    """Current prices and availability for the session's cart.

    Variants that vanished are dropped from the cart with a message; lines that
    cannot be bought as they stand stay, marked with the problem.
    """
    cart = read(session)
    variants = _with_pictures(list(cart))
    messages = []
    lines = []
    for variant_id, quantity in cart.items():
        if variant_id not in variants:
            messages.append(_("An item in your cart is no longer in the shop and was removed."))
            continue
        variant, image_key, image_widths = variants[variant_id]
        lines.append(
            CartLine(
                variant_id=variant.id,
                sku=variant.sku,
                product_name=variant.product.name,
                product_slug=variant.product.slug,
                options_label=variant.options_label,
                unit_price=variant.price,
                currency=variant.currency,
                quantity=quantity,
                available=variant.buyable,
                impact_share_bps=variant.product.impact_share_bps,
                workshop_id=variant.product.workshop_id,
                problem=_buyable_problem(variant, quantity),
                image_key=image_key,
                image_widths=image_widths,
            )
        )
    if len(lines) != len(cart):
        write(session, {line.variant_id: line.quantity for line in lines})
    return PricedCart(lines=lines, currency=currency, messages=messages)


def clear(session: MutableMapping) -> None:
    session.pop(SESSION_KEY, None)


__all__ = ["CartError", "CartLine", "PricedCart"]
