"""Catalog rules: stock movements and the queries behind the storefront.

Services flush and never commit; the request or command that calls them owns
the transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.orm import contains_eager, joinedload, selectinload

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

SORTS = {
    "newest": "Newest first",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
}
DEFAULT_SORT = "newest"


class StockError(ValueError):
    """A stock change that would break a rule; nothing was changed."""


class InsufficientStock(StockError):
    def __init__(self, sku: str, available: int, wanted: int):
        super().__init__(f"only {available} of {sku} in stock, {wanted} needed")
        self.sku, self.available, self.wanted = sku, available, wanted


def take_stock(variant_id: int, quantity: int) -> int | None:
    """Change a variant's stock by `quantity` unless it would go below zero.

    The UPDATE only matches while the result stays at or above zero, so two
    transactions racing for the last units cannot both take them; the CHECK
    constraint on `variants.stock` backs this up. Returns the new stock, or
    None when there was not enough. The caller records the movement.
    """
    return db.session.execute(
        update(Variant)
        .where(Variant.id == variant_id, Variant.stock + quantity >= 0)
        .values(stock=Variant.stock + quantity)
        .returning(Variant.stock)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()


def move_stock(
    variant: Variant,
    quantity: int,
    kind: StockMovementKind,
    *,
    reason: str = "",
    batch_id: int | None = None,
) -> StockMovement:
    """Change a variant's stock by `quantity` and record the movement."""
    if quantity == 0:
        raise StockError("a stock movement must change the stock")
    if kind == StockMovementKind.ADJUSTMENT and not reason.strip():
        raise StockError("a stock adjustment needs a reason")
    stock_after = take_stock(variant.id, quantity)
    if stock_after is None:
        available = db.session.scalar(select(Variant.stock).where(Variant.id == variant.id))
        raise InsufficientStock(variant.sku, available or 0, -quantity)
    db.session.expire(variant, ["stock"])
    movement = StockMovement(
        variant_id=variant.id,
        quantity=quantity,
        kind=kind,
        reason=reason.strip(),
        batch_id=batch_id,
        stock_after=stock_after,
    )
    db.session.add(movement)
    db.session.flush()
    return movement


def adjust_stock(variant: Variant, quantity: int, reason: str) -> StockMovement:
    return move_stock(variant, quantity, StockMovementKind.ADJUSTMENT, reason=reason)


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
        select(func.coalesce(func.sum(Variant.stock), 0))
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
                selectinload(Product.variants).selectinload(
                    Variant.batches.and_(Batch.units_allocated < Batch.quantity)
                ),
            )
        )
        .unique()
        .one_or_none()
    )
