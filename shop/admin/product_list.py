"""The admin's products list: search (name, address name or a variant's SKU), status,
sort, a page at a time; two statements whatever the size of the catalog."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, literal_column, select
from sqlalchemy.orm import aliased

from shop.admin.catalog_forms import STATUS_LABELS
from shop.catalog.models import Product, ProductStatus, Variant
from shop.database import contains_pattern, matches_pattern
from shop.extensions import db
from shop.list_args import ListArgs
from shop.provenance.models import Workshop

STATUSES = {s.value: STATUS_LABELS[s.value] for s in ProductStatus}
_STOCK = literal_column("stock")
SORTS = {
    "name": (_l("Name, A to Z"), (Product.name, Product.id)),
    "newest": (_l("Newest first"), (Product.created_at.desc(), Product.id.desc())),
    "stock_low": (_l("Fewest in stock first"), (_STOCK, Product.name, Product.id)),
    "status": (_l("Status"), (Product.status, Product.name, Product.id)),
}
SORT_LABELS = {key: label for key, (label, _order) in SORTS.items()}


@dataclass(frozen=True)
class ProductFilters:
    q: str = ""
    status: str | None = None
    sort: str = "name"


def read_filters(args: ListArgs) -> ProductFilters:
    q = args.search("q", _("Name or SKU"))
    status = args.choice("status", _("Status"), _texts(STATUSES))
    return ProductFilters(q, status, args.choice("sort", _("Sort"), _texts(SORT_LABELS)) or "name")


def _texts(labels: dict) -> dict[str, str]:
    """Labels in the reader's language, as text (the list's messages join them)."""
    return {key: str(label) for key, label in labels.items()}


def product_page(filters: ProductFilters, page: int, per_page: int) -> tuple[list, int]:
    """One page of the product table (name, status, workshop, variant count, stock) as
    filtered and sorted, and how many products match."""
    wanted = []
    if filters.q:
        pattern = contains_pattern(filters.q)
        other = aliased(Variant)  # its own name: the page's query joins the variants too
        sku = exists().where(
            other.product_id == Product.id, matches_pattern(other.sku, pattern=pattern)
        )
        wanted.append(matches_pattern(Product.name, Product.slug, pattern=pattern) | sku)
    if filters.status:
        wanted.append(Product.status == filters.status)
    total = db.session.scalar(select(func.count(Product.id)).where(*wanted))
    rows = db.session.execute(
        select(Product.id, Product.name, Product.status, Workshop.name.label("workshop"),
               func.count(Variant.id).label("variants"), func.coalesce(func.sum(Variant.stock), 0).label("stock"))
        .join(Workshop, Workshop.id == Product.workshop_id)
        .outerjoin(Variant, Variant.product_id == Product.id)
        .where(*wanted)
        .group_by(Product.id, Product.name, Product.status, Workshop.name)
        .order_by(*SORTS[filters.sort][1]).limit(per_page).offset((page - 1) * per_page)
    ).all()  # fmt: skip
    return rows, total
