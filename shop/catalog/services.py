"""Catalog rules: stock movements and the queries behind the storefront.

Services flush and never commit; the request or command that calls them owns
the transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import (
    literal,
    select,
    update,
)
from sqlalchemy.orm import with_expression
from sqlalchemy.orm.util import identity_key

from shop.catalog.models import (
    StockMovement,
    StockMovementKind,
    Variant,
)
from shop.extensions import db
from shop.timeutil import utcnow


class StockError(ValueError):
    """A stock change that would break a rule; nothing was changed."""


class InsufficientStock(StockError):
    def __init__(self, sku: str, available: int, wanted: int, message: str | None = None):
        super().__init__(
            message
            or _("only %(available)s of %(sku)s in stock, %(wanted)s needed",
                 available=available, sku=sku, wanted=wanted)
        )  # fmt: skip
        self.sku, self.available, self.wanted = sku, available, wanted


# What each kind of movement does to (on hand, held), per unit of its signed quantity.
_EFFECT: dict[StockMovementKind, tuple[int, int]] = {
    StockMovementKind.BATCH: (1, 0),
    StockMovementKind.ADJUSTMENT: (1, 0),
    StockMovementKind.RESERVATION: (0, -1),  # quantity -2: two more units held
    StockMovementKind.RELEASE: (0, -1),  # quantity +2: two units held no longer
    StockMovementKind.SALE: (1, 1),  # quantity -2: two held units leave the shelf
}


@dataclass(frozen=True)
class StockLevel:
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def change_stock(variant_id: int, kind: StockMovementKind, quantity: int) -> StockLevel | None:
    """Apply one movement's effect to a variant's counts, unless a rule would break.

    The UPDATE only matches while on hand stays >= 0 and held stays between 0 and
    on hand, so two transactions racing for the last units cannot both take them
    (a hold needs on_hand - reserved >= its quantity); the CHECK constraints back
    this up. Returns the new counts, or None when the change was refused. The
    caller records the movement.
    """
    on_hand_delta, reserved_delta = (factor * quantity for factor in _EFFECT[kind])
    on_hand = Variant.on_hand + on_hand_delta
    reserved = Variant.reserved + reserved_delta
    row = db.session.execute(
        update(Variant)
        .where(Variant.id == variant_id, on_hand >= 0, reserved >= 0, on_hand - reserved >= 0)
        .values(on_hand=on_hand, reserved=reserved)
        .returning(Variant.on_hand, Variant.reserved)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if row is None:
        return None
    loaded = db.session.identity_map.get(identity_key(Variant, variant_id))
    if loaded is not None:  # a Variant this session holds would show the old counts
        db.session.expire(loaded, ["on_hand", "reserved"])
    return StockLevel(row.on_hand, row.reserved)


def stock_level(variant_id: int) -> StockLevel:
    row = db.session.execute(
        select(Variant.on_hand, Variant.reserved).where(Variant.id == variant_id)
    ).one()
    return StockLevel(row.on_hand, row.reserved)


def _refusal(variant_id: int, kind: StockMovementKind, quantity: int) -> InsufficientStock:
    sku = db.session.scalar(select(Variant.sku).where(Variant.id == variant_id))
    level = stock_level(variant_id)
    if kind == StockMovementKind.ADJUSTMENT:
        return InsufficientStock(
            sku, level.available, -quantity,
            _("%(sku)s has %(on_hand)s on the shelf and %(reserved)s of them are held for "
              "orders waiting for payment, so at most %(available)s can be removed, not "
              "%(asked)s", sku=sku, on_hand=level.on_hand, reserved=level.reserved,
              available=level.available, asked=-quantity),
        )  # fmt: skip
    if kind in (StockMovementKind.SALE, StockMovementKind.RELEASE):
        return InsufficientStock(
            sku, level.reserved, abs(quantity),
            _("only %(held)s of %(sku)s are held, %(wanted)s needed", held=level.reserved, sku=sku,
              wanted=abs(quantity)),
        )  # fmt: skip
    return InsufficientStock(sku, level.available, -quantity)


def move_stock(
    variant: Variant | int,
    quantity: int,
    kind: StockMovementKind,
    *,
    reason: str = "",
    batch_id: int | None = None,
) -> StockMovement:
    """Change a variant's counts as `kind` says and record the movement.

    `variant` may be the row or its id (a caller that has only the id saves a SELECT).
    """
    if quantity == 0:
        raise StockError(_("a stock movement must change the stock"))
    if kind == StockMovementKind.ADJUSTMENT and not reason.strip():
        raise StockError(_("a stock adjustment needs a reason"))
    variant_id = variant if isinstance(variant, int) else variant.id
    level = change_stock(variant_id, kind, quantity)
    if level is None:
        raise _refusal(variant_id, kind, quantity)
    movement = StockMovement(
        variant_id=variant_id,
        quantity=quantity,
        kind=kind,
        reason=reason.strip(),
        batch_id=batch_id,
        stock_after=level.on_hand,
        reserved_after=level.reserved,
    )
    db.session.add(movement)
    db.session.flush()
    return movement


# --- What buyers are shown ---------------------------------------------------

# Units held by holds that ran out are a buyer's to take (the next write that needs them
# releases the whole order first), so pages count them as there. Holds belong to the
# orders package, which the catalog does not import: it registers how to count them in
# SQL (shop.orders.holds.init_holds). Until it does, none are counted.
_lapsed_holds: Callable = lambda _variant_id, _now: literal(0)  # noqa: E731


def register_lapsed_holds(expression: Callable) -> None:
    """`expression(variant id column, now)`: SQL for the units held by holds that ran out."""
    global _lapsed_holds
    _lapsed_holds = expression
    from shop.catalog import storefront

    storefront.forget_statements()  # built with the expression registered before


def buyable_units(now: datetime | None = None):
    """SQL for Variant.buyable: available units plus those held by holds that ran out."""
    return Variant.available + _lapsed_holds(Variant.id, utcnow() if now is None else now)


def with_lapsed_holds(now: datetime | None = None):
    """A loader option filling Variant.lapsed_held in the same statement."""
    return with_expression(
        Variant.lapsed_held, _lapsed_holds(Variant.id, utcnow() if now is None else now)
    )
