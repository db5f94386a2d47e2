"""The admin's orders list: search, filters, sort, a page at a time, with the pictures
of what each order holds. Three statements whatever the number of orders: the count,
the page, and every line of the page's orders with its product's first picture."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from shop.catalog.models import ProductImage, Variant
from shop.database import contains_text
from shop.extensions import db
from shop.list_args import ListArgs, day_starts
from shop.orders.models import Order, OrderLine, OrderStatus, RefundStatus

TO_SHIP = "to_ship"  # a status filter of its own: paid, not shipped, not refunded in full
THUMBNAILS_PER_ORDER = 4

STATUSES = {TO_SHIP: _l("To ship")} | {s.value: s.shown for s in OrderStatus}
REFUNDS = {s.value: s.shown for s in RefundStatus}
# The order's life, for sorting by status (the values' alphabet means nothing).
_LIFE = case(*((Order.status == s, i) for i, s in enumerate(OrderStatus)), else_=len(OrderStatus))
SORTS = {
    "newest": (_l("Newest first"), (Order.created_at.desc(), Order.id.desc())),
    "oldest": (_l("Oldest first"), (Order.created_at.asc(), Order.id.asc())),
    "total_high": (_l("Total, highest first"), (Order.total.desc(), Order.id.desc())),
    "total_low": (_l("Total, lowest first"), (Order.total.asc(), Order.id.asc())),
    "status": (_l("Status"), (_LIFE, Order.created_at.desc(), Order.id.desc())),
}
SORT_LABELS = {key: label for key, (label, _order) in SORTS.items()}


@dataclass(frozen=True)
class OrderFilters:
    q: str = ""
    status: str | None = None
    refund: str | None = None
    placed_from: date | None = None
    placed_to: date | None = None
    sort: str = "newest"


def read_filters(args: ListArgs) -> OrderFilters:
    q = args.search("q", _("Order number, email or name"))
    status = args.choice("status", _("Status"), _texts(STATUSES))
    refund = args.choice("refund", _("Refund"), _texts(REFUNDS))
    first, last = args.day_range("placed_from", "placed_to", (_("Placed from"), _("Placed until")))
    sort = args.choice("sort", _("Sort"), _texts(SORT_LABELS)) or "newest"
    return OrderFilters(q, status, refund, first, last, sort)


def _texts(labels: dict) -> dict[str, str]:
    """Labels in the reader's language, as text (the list's messages join them)."""
    return {key: str(label) for key, label in labels.items()}


def orders_query(filters: OrderFilters):
    query = select(Order)
    if filters.q:
        query = query.where(contains_text(Order.number, Order.email, Order.name, text=filters.q))
    if filters.status == TO_SHIP:
        query = query.where(
            Order.status == OrderStatus.PAID, Order.refund_status != RefundStatus.FULL.value
        )
    elif filters.status:
        query = query.where(Order.status == filters.status)
    if filters.refund:
        query = query.where(Order.refund_status == filters.refund)
    begin, end = day_starts(filters.placed_from, filters.placed_to)
    if begin:
        query = query.where(Order.created_at >= begin)
    if end:
        query = query.where(Order.created_at < end)
    return query


def order_page(filters: OrderFilters, page: int, per_page: int) -> tuple[list[Order], int]:
    """One page of the orders that match, in the chosen order, and how many match."""
    query = orders_query(filters)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(*SORTS[filters.sort][1]).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return list(rows), total


@dataclass(frozen=True)
class LineThumbnail:
    name: str
    quantity: int
    image_key: str | None
    image_widths: str | None


def line_thumbnails(order_ids: list[int]) -> dict[int, list[LineThumbnail]]:
    """What each order holds, with its product's first picture, in one statement."""
    if not order_ids:
        return {}
    first_image = (
        select(ProductImage.id)
        .where(ProductImage.product_id == Variant.product_id)
        .order_by(ProductImage.position, ProductImage.id)
        .limit(1)
        .correlate(Variant)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(
            OrderLine.order_id,
            OrderLine.product_name,
            OrderLine.quantity,
            ProductImage.filename,
            ProductImage.derivative_widths,
        )
        .join(Variant, Variant.id == OrderLine.variant_id)
        .outerjoin(ProductImage, ProductImage.id == first_image)
        .where(OrderLine.order_id.in_(order_ids))
        .order_by(OrderLine.order_id, OrderLine.id)
    ).all()
    found: dict[int, list[LineThumbnail]] = defaultdict(list)
    for order_id, name, quantity, key, widths in rows:
        found[order_id].append(LineThumbnail(name, quantity, key, widths))
    return dict(found)
