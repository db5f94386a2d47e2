"""The queries behind the storefront: product tiles, listing pages, the product page.

Each is built once per shape with bind parameters for its values (building a statement
and its cache key on every request was a fifth of a listing's time), and loads plain
values or everything a page shows up front, in a fixed number of statements whatever
the catalog's size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, Integer, Select, String, and_, bindparam, case, func, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from shop.catalog.models import Category, Product, ProductImage, ProductStatus, Variant
from shop.catalog.product_page import matches
from shop.catalog.services import buyable_units, with_lapsed_holds
from shop.database import contains_pattern, matches_pattern
from shop.extensions import db
from shop.timeutil import utcnow

SORTS = {
    "newest": _l("Newest first"),
    "price_asc": _l("Price: low to high"),
    "price_desc": _l("Price: high to low"),
}
DEFAULT_SORT = "newest"


def forget_statements() -> None:
    _cards_statements.cache_clear()


_NOW_TYPE = DateTime(timezone=True)


@dataclass(frozen=True)
class ProductCard:
    """What a product tile shows: plain values, nothing left to load."""

    slug: str
    name: str
    price: int | None  # the lowest a buyer can pay now (shown_prices)
    price_varies: bool  # "from": the prices a buyer can pay differ
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


@dataclass(frozen=True)
class CardQuery:
    """A storefront listing: a statement built once per shape, and this request's values."""

    statement: Select  # every match, with the total in each row
    page: Select  # the same, cut by :limit and :offset
    params: dict


def product_cards_query(
    *,
    category_slug: str | None = None,
    text: str | None = None,
    sort: str = DEFAULT_SORT,
    workshop_id: int | None = None,
    featured_only: bool = False,
) -> CardQuery:
    """Everything a product tile needs, plus the total, in one SELECT."""
    text = (text or "").strip() or None
    if sort not in SORTS:
        sort = DEFAULT_SORT
    statement, page = _cards_statements(
        bool(category_slug), bool(text), sort, workshop_id is not None, featured_only
    )
    params = {"now": utcnow()}
    if category_slug:
        params["category_slug"] = category_slug
    if text:
        params["pattern"] = contains_pattern(text)
    if workshop_id is not None:
        params["workshop_id"] = workshop_id
    return CardQuery(statement, page, params)


@lru_cache(maxsize=64)
def _cards_statements(
    by_category: bool, by_text: bool, sort: str, by_workshop: bool, featured_only: bool
) -> tuple[Select, Select]:
    """The listing's statement for one shape of filters, with bind parameters for the
    values. Built once: building it and its cache key on every request was a fifth of a
    listing's time (SQLAlchemy then finds the compiled SQL in its own cache)."""
    from shop.provenance.models import Workshop, WorkshopStatus

    low_price, high_price = shown_prices(Workshop.status != WorkshopStatus.SUSPENDED)
    low_price = low_price.label("low_price")  # ordered by its name: computed once
    currency = (
        select(func.min(Variant.currency))
        .where(Variant.product_id == Product.id)
        .correlate(Product)
        .scalar_subquery()
    )
    in_stock = (
        select(func.coalesce(func.sum(buyable_units(bindparam("now", type_=_NOW_TYPE))), 0))
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
            low_price,
            high_price.label("high_price"),
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
    if by_category:
        stmt = stmt.where(Category.slug == bindparam("category_slug"))
    if by_workshop:
        stmt = stmt.where(Product.workshop_id == bindparam("workshop_id"))
    if featured_only:
        stmt = stmt.where(Product.featured.is_(True))
    if by_text:
        stmt = stmt.where(
            matches_pattern(
                Product.name, Product.description, Product.story, Workshop.name,
                pattern=bindparam("pattern", type_=String),
            )
        )  # fmt: skip
    if sort == "price_asc":  # by the price the tile shows
        stmt = stmt.order_by(low_price.asc(), Product.id)
    elif sort == "price_desc":
        stmt = stmt.order_by(low_price.desc(), Product.id)
    else:
        stmt = stmt.order_by(Product.created_at.desc(), Product.id.desc())
    page = stmt.limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))
    return stmt, page


def shown_prices(workshop_open) -> tuple:
    """SQL for the lowest and highest price of a product's variants a buyer can take now
    (units left, its workshop open: `workshop_open`, on the outer query's workshop), or
    of all its variants when none can be bought: the tile shows the lowest, "from" when
    the two differ. The rule of the product page's price line (product_page.price_line)."""
    can_buy = and_(buyable_units(bindparam("now", type_=_NOW_TYPE)) > 0, workshop_open)

    def price(aggregate):
        return (
            select(
                func.coalesce(aggregate(case((can_buy, Variant.price))), aggregate(Variant.price))
            )
            .where(Variant.product_id == Product.id)
            .scalar_subquery()
        )

    return price(func.min), price(func.max)


def _card(row) -> ProductCard:
    return ProductCard(
        slug=row.slug,
        name=row.name,
        price=row.low_price,
        price_varies=row.low_price != row.high_price,
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


def product_page(query: CardQuery, page: int, per_page: int) -> ProductPage:
    """A page of cards in one statement; the window count gives the total."""
    page = max(1, page)
    rows = db.session.execute(
        query.page, {**query.params, "limit": per_page, "offset": (page - 1) * per_page}
    ).all()
    if rows:
        total = rows[0].total
    elif page == 1:
        total = 0
    else:  # past the end: count so the page can offer the way back
        total = db.session.scalar(
            select(func.count()).select_from(query.statement.subquery()), query.params
        )
    return ProductPage([_card(r) for r in rows], page, per_page, total)


def product_cards(query: CardQuery, limit: int) -> list[ProductCard]:
    rows = db.session.execute(query.page, {**query.params, "limit": limit, "offset": 0})
    return [_card(r) for r in rows.all()]


@lru_cache(maxsize=1)
def _categories_statement() -> Select:
    return (
        select(Category)
        .where(
            select(Product.id)
            .where(Product.category_id == Category.id, Product.status == ProductStatus.ACTIVE)
            .exists()
        )
        .order_by(Category.position, Category.name)
    )


def categories_in_use() -> list[Category]:
    return list(db.session.scalars(_categories_statement()))


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


def variant_id_for_choice(slug: str, chosen: dict[str, str]) -> int | None:
    """The id of the product's variant with exactly the options chosen on its page, or
    None (no such product, or no variant with those options). Whether it can be bought
    is the cart's question."""
    rows = db.session.execute(
        select(Variant.id, Variant.options)
        .join(Variant.product)
        .where(Product.slug == slug, Product.status != ProductStatus.DRAFT)
    ).all()
    return next((row.id for row in rows if matches(row.options, chosen)), None)
