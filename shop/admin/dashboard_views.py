"""Admin: the dashboard and the audit log."""

from __future__ import annotations

from datetime import datetime, time

from flask import render_template
from sqlalchemy import func, literal_column, select

from shop.admin.blueprint import LOW_STOCK, bp
from shop.audit.services import audit_page
from shop.catalog.models import Product, Variant
from shop.extensions import db
from shop.orders.models import Order, OrderStatus, RefundStatus
from shop.orders.states import PAID_STATES
from shop.timeutil import today
from shop.training.models import Transfer, TransferKind
from shop.training.reports import bar_chart, month_of


@bp.get("/")
def dashboard():
    start_of_day = datetime.combine(today(), time.min)
    start_of_month = start_of_day.replace(day=1)
    paid = Order.status.in_(PAID_STATES)  # refunds live in refunded_amount, not the status
    sales = db.session.execute(
        select(
            func.coalesce(func.sum(Order.total - Order.refunded_amount).filter(Order.paid_at >= start_of_day), 0),
            func.count(Order.id).filter(Order.paid_at >= start_of_day),
            func.coalesce(func.sum(Order.total - Order.refunded_amount), 0),
            func.count(Order.id),
        ).where(paid, Order.paid_at >= start_of_month)
    ).one()  # fmt: skip
    to_ship = db.session.scalar(
        select(func.count(Order.id)).where(
            Order.status == OrderStatus.PAID, Order.refund_status != RefundStatus.FULL.value
        )
    )
    low = db.session.execute(
        select(
            Variant.id,
            Variant.sku,
            Variant.available.label("available"),
            Variant.on_hand,
            Product.name,
        )
        .join(Variant.product)
        .where(Product.status == "active", Variant.available <= LOW_STOCK)
        .order_by(Variant.available, Variant.sku)
        .limit(20)
    ).all()
    month = month_of(Transfer.created_at)
    credited = db.session.execute(
        select(month.label("month"), func.sum(Transfer.amount))
        .where(Transfer.kind == TransferKind.SALE_SHARE)
        .group_by(literal_column("month"))
        .order_by(literal_column("month").desc())
        .limit(12)
    ).all()
    this_month = f"{today():%Y-%m}"
    monthly_sales = db.session.execute(
        select(month_of(Order.paid_at).label("m"), func.sum(Order.total - Order.refunded_amount))
        .where(paid, Order.paid_at.is_not(None))
        .group_by(literal_column("m"))
        .order_by(literal_column("m").desc())
        .limit(12)
    ).all()
    return render_template(
        "admin/dashboard.html",
        today_sales=int(sales[0]), today_orders=sales[1], month_sales=int(sales[2]),
        month_orders=sales[3], to_ship=to_ship, low=low, low_stock=LOW_STOCK,
        credited_this_month=next((int(v) for m, v in credited if m == this_month), 0),
        sales_bars=bar_chart([(m, int(v or 0)) for m, v in reversed(monthly_sales)]),
    )  # fmt: skip


@bp.get("/audit")
def audit():
    return audit_page()
