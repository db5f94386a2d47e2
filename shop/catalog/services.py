"""Catalog rules: stock movements and the queries behind the storefront.

Services flush and never commit; the request or command that calls them owns
the transaction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, case, func, literal, select, update
from sqlalchemy.orm import contains_eager, joinedload, selectinload, with_expression
from sqlalchemy.orm.util import identity_key

from shop.catalog.models import (
    Category,
    Product,
    ProductImage,
    ProductStatus,
    StockMovement,
    StockMovementKind,
    Variant,
)
from shop.database import contains_text
from shop.extensions import db
from shop.timeutil import utcnow

SORTS = {
    "newest": "Newest first",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
}
DEFAULT_SORT = "newest"


class StockError(ValueError):
    """A stock change that would break a rule; nothing was changed."""


class InsufficientStock(StockError):
    def __init__(self, sku: str, available: int, wanted: int, message: str | None = None):
        super().__init__(message or f"only {available} of {sku} in stock, {wanted} needed")
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
            f"{sku} has {level.on_hand} on the shelf and {level.reserved} of them are "
            f"held for orders waiting for payment, so at most {level.available} can be "
            f"removed, not {-quantity}",
        )  # fmt: skip
    if kind in (StockMovementKind.SALE, StockMovementKind.RELEASE):
        return InsufficientStock(
            sku, level.reserved, abs(quantity),
            f"only {level.reserved} of {sku} are held, {abs(quantity)} needed",
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
        raise StockError("a stock movement must change the stock")
    if kind == StockMovementKind.ADJUSTMENT and not reason.strip():
        raise StockError("a stock adjustment needs a reason")
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


def buyable_units(now: datetime | None = None):
    """SQL for Variant.buyable: available units plus those held by holds that ran out."""
    return Variant.available + _lapsed_holds(Variant.id, now or utcnow())


def with_lapsed_holds(now: datetime | None = None):
    """A loader option filling Variant.lapsed_held in the same statement."""
    return with_expression(Variant.lapsed_held, _lapsed_holds(Variant.id, now or utcnow()))


# --- Storefront queries -----------------------------------------------------


@dataclass(frozen=True)
class ProductCard:
    """What a product tile shows: plain values, nothing left to load."""

    slug: str
    name: str
    min_price: int | None
    currency: str | None
    in_stock: int
    image_filename: str | None
    image_alt: str | None
    image_widths: str | None  # of its responsive copies; None until they are made
    workshop_name: str
    workshop_slug: str
    country_code: str | None
    workshop_suspended: bool
    category_name: str | None


@dataclass(frozen=True)
class ProductPage:
    cards: list[ProductCard]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def product_cards_query(
    *,
    category_slug: str | None = None,
    text: str | None = None,
    sort: str = DEFAULT_SORT,
    workshop_id: int | None = None,
    featured_only: bool = False,
) -> Select:
    """One SELECT that yields everything a product tile needs, plus the total."""
    from shop.provenance.models import Workshop, WorkshopStatus

    min_price = (
        select(func.min(Variant.price))
        .where(Variant.product_id == Product.id)
        .correlate(Product)
        .scalar_subquery()
    )
    currency = (
        select(func.min(Variant.currency))
        .where(Variant.product_id == Product.id)
        .correlate(Product)
        .scalar_subquery()
    )
    in_stock = (
        select(func.coalesce(func.sum(buyable_units()), 0))
        .where(Variant.product_id == Product.id)
        .correlate(Product)
        .scalar_subquery()
    )
    first_image = (
        select(ProductImage.id)
        .where(ProductImage.product_id == Product.id)
        .order_by(ProductImage.position, ProductImage.id)
        .limit(1)
        .correlate(Product)
        .scalar_subquery()
    )
    stmt = (
        select(
            Product.slug,
            Product.name,
            min_price.label("min_price"),
            currency.label("currency"),
            in_stock.label("in_stock"),
            ProductImage.filename,
            ProductImage.alt_text,
            ProductImage.derivative_widths,
            Workshop.name.label("workshop_name"),
            Workshop.slug.label("workshop_slug"),
            case((Workshop.country_public, Workshop.country_code), else_=None).label(
                "country_code"
            ),
            (Workshop.status == WorkshopStatus.SUSPENDED).label("workshop_suspended"),
            Category.name.label("category_name"),
            func.count().over().label("total"),
        )
        .join(Workshop, Workshop.id == Product.workshop_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .outerjoin(ProductImage, ProductImage.id == first_image)
        .where(Product.status == ProductStatus.ACTIVE)
    )
    if category_slug:
        stmt = stmt.where(Category.slug == category_slug)
    if workshop_id is not None:
        stmt = stmt.where(Product.workshop_id == workshop_id)
    if featured_only:
        stmt = stmt.where(Product.featured.is_(True))
    if text:
        stmt = stmt.where(
            contains_text(
                Product.name, Product.description, Product.story, Workshop.name, text=text.strip()
            )
        )
    if sort == "price_asc":
        stmt = stmt.order_by(min_price.asc(), Product.id)
    elif sort == "price_desc":
        stmt = stmt.order_by(min_price.desc(), Product.id)
    else:
        stmt = stmt.order_by(Product.created_at.desc(), Product.id.desc())
    return stmt


def _card(row) -> ProductCard:
    return ProductCard(
        slug=row.slug,
        name=row.name,
        min_price=row.min_price,
        currency=row.currency,
        in_stock=int(row.in_stock or 0),
        image_filename=row.filename,
        image_alt=row.alt_text,
        image_widths=row.derivative_widths,
        workshop_name=row.workshop_name,
        workshop_slug=row.workshop_slug,
        country_code=row.country_code,
        workshop_suspended=bool(row.workshop_suspended),
        category_name=row.category_name,
    )


def product_page(stmt: Select, page: int, per_page: int) -> ProductPage:
    """A page of cards in one statement; the window count gives the total."""
    page = max(1, page)
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    if rows:
        total = rows[0].total
    elif page == 1:
        total = 0
    else:  # past the end: count so the page can offer the way back
        total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    return ProductPage([_card(r) for r in rows], page, per_page, total)


def product_cards(stmt: Select, limit: int) -> list[ProductCard]:
    return [_card(r) for r in db.session.execute(stmt.limit(limit)).all()]


def categories_in_use() -> list[Category]:
    return list(
        db.session.scalars(
            select(Category)
            .where(
                select(Product.id)
                .where(Product.category_id == Category.id, Product.status == ProductStatus.ACTIVE)
                .exists()
            )
            .order_by(Category.position, Category.name)
        )
    )


def product_for_page(slug: str) -> Product | None:
    """A product with everything its page shows, in four statements."""
    from shop.provenance.models import Batch, Workshop

    return (
        db.session.scalars(
            select(Product)
            .join(Product.workshop)
            .where(Product.slug == slug, Product.status != ProductStatus.DRAFT)
            .options(
                contains_eager(Product.workshop).selectinload(Workshop.vetting_events),
                joinedload(Product.category),
                joinedload(Product.images),
                selectinload(Product.variants).options(
                    with_lapsed_holds(),
                    selectinload(Variant.batches.and_(Batch.units_left > 0)),
                ),
            )
        )
        .unique()
        .one_or_none()
    )
