"""The admin back office under /admin/: dashboard, orders, stock, batches, exports, audit.

Guarded once for the whole blueprint: anonymous visitors are sent to sign in,
anyone without the admin role gets 403. Views stay thin: the money and stock
rules are the orders', catalog's and provenance's services.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from shop.accounts.models import Role
from shop.audit.services import audit_page, record, snapshot
from shop.catalog.models import Product, StockMovement, Variant
from shop.catalog.services import adjust_stock
from shop.csv_import import FieldError
from shop.extensions import db, login_manager
from shop.money import MoneyError, parse_major
from shop.orders.checkout import cancel_unpaid
from shop.orders.gateways import GatewayError, gateway
from shop.orders.models import Order, OrderStatus
from shop.orders.notifications import send_shipping_notice
from shop.orders.refunds import RefundError, refund_order
from shop.orders.states import PAID_STATES, IllegalTransition, transition
from shop.provenance.importers import parse_makers
from shop.provenance.models import Batch, Trainee, Workshop
from shop.provenance.services import ProvenanceError, record_batch
from shop.timeutil import today
from shop.training.models import Transfer, TransferKind
from shop.training.reports import bar_chart, month_of
from shop.web import csv_response, major, page_number

bp = Blueprint("admin", __name__, url_prefix="/admin")

PER_PAGE = 30
LOW_STOCK = 3


@bp.before_request
def _admins_only():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.has_role(Role.ADMIN):
        abort(403)
    return None


# --- dashboard ----------------------------------------------------------------------------


@bp.get("/")
def dashboard():
    start_of_day = datetime.combine(today(), time.min)
    start_of_month = start_of_day.replace(day=1)
    paid = Order.status.in_([*PAID_STATES, OrderStatus.REFUNDED])
    sales = db.session.execute(
        select(
            func.coalesce(func.sum(Order.total - Order.refunded_amount).filter(Order.paid_at >= start_of_day), 0),
            func.count(Order.id).filter(Order.paid_at >= start_of_day),
            func.coalesce(func.sum(Order.total - Order.refunded_amount), 0),
            func.count(Order.id),
        ).where(paid, Order.paid_at >= start_of_month)
    ).one()  # fmt: skip
    to_ship = db.session.scalar(
        select(func.count(Order.id)).where(Order.status == OrderStatus.PAID)
    )
    low = db.session.execute(
        select(Variant.id, Variant.sku, Variant.stock, Product.name)
        .join(Variant.product)
        .where(Product.status == "active", Variant.stock <= LOW_STOCK)
        .order_by(Variant.stock, Variant.sku)
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


# --- orders -----------------------------------------------------------------------------


def _orders_query(status: str | None):
    query = select(Order)
    if status:
        query = query.where(Order.status == status)
    return query


@bp.get("/orders")
def orders():
    status = request.args.get("status") or None
    if status and status not in {s.value for s in OrderStatus}:
        status = None
    page = page_number()
    query = _orders_query(status)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(Order.created_at.desc(), Order.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return render_template(
        "admin/orders.html", orders=rows, total=total, page=page, status=status,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), statuses=list(OrderStatus),
    )  # fmt: skip


def _order_or_404(order_id: int, *, lock: bool = False, reservations: bool = False) -> Order:
    query = (
        select(Order)
        .where(Order.id == order_id)
        .options(
            selectinload(Order.lines), selectinload(Order.payments), selectinload(Order.refunds)
        )
    )
    if reservations:
        query = query.options(selectinload(Order.reservations))
    if lock:
        query = query.with_for_update(of=Order)
    order = db.session.scalars(query).one_or_none()
    if order is None:
        abort(404)
    return order


class ShipForm(FlaskForm):
    tracking_number = StringField("Tracking number", validators=[InputRequired(), Length(max=80)])


class RefundForm(FlaskForm):
    everything = BooleanField("Refund the whole order (everything not yet refunded)")
    include_shipping = BooleanField("Refund the shipping too")
    reason = StringField("Reason", validators=[Optional(), Length(max=300)])
    request_key = HiddenField()


class EmptyForm(FlaskForm):
    """Only the CSRF token: for buttons."""


def _order_page(order: Order, status: int = 200, **forms):
    refund_form = forms.get("refund_form") or RefundForm()
    if not refund_form.request_key.data:
        refund_form.request_key.data = secrets.token_urlsafe(16)
    return render_template(
        "admin/order.html", order=order, ship_form=forms.get("ship_form") or ShipForm(),
        refund_form=refund_form, button_form=EmptyForm(), paid_states=PAID_STATES,
    ), status  # fmt: skip


@bp.get("/orders/<int:order_id>")
def order(order_id: int):
    return _order_page(_order_or_404(order_id))


@bp.post("/orders/<int:order_id>/ship")
def ship(order_id: int):
    found = _order_or_404(order_id, lock=True)
    form = ShipForm()
    if not form.validate_on_submit():
        flash("Enter the tracking number.", "error")
        return _order_page(found, 400, ship_form=form)
    before = snapshot(found, ["status", "tracking_number"])
    try:
        transition(found, OrderStatus.FULFILLED)
    except IllegalTransition:
        flash(
            f"Order {found.number} is {found.status.label.lower()}: it cannot be shipped now.",
            "error",
        )
        return redirect(url_for("admin.order", order_id=order_id))
    found.tracking_number = form.tracking_number.data.strip()
    record("order.ship", "order", found.id, summary=f"Order {found.number} shipped",
           before=before, after=snapshot(found, ["status", "tracking_number"]))  # fmt: skip
    db.session.commit()
    send_shipping_notice(order_id)
    flash("Marked as shipped; the buyer was sent the shipping notice.", "success")
    return redirect(url_for("admin.order", order_id=order_id))


@bp.post("/orders/<int:order_id>/cancel")
def cancel(order_id: int):
    found = _order_or_404(order_id, lock=True, reservations=True)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        cancel_unpaid(found)
    except IllegalTransition:
        flash("Only an unpaid order can be cancelled; refund a paid one instead.", "error")
        return redirect(url_for("admin.order", order_id=order_id))
    record("order.cancel", "order", found.id, summary=f"Order {found.number} cancelled")
    db.session.commit()
    flash("Order cancelled; its held stock is back on sale.", "success")
    return redirect(url_for("admin.order", order_id=order_id))


@bp.post("/orders/<int:order_id>/refund")
def refund(order_id: int):
    found = _order_or_404(order_id, lock=True)
    form = RefundForm()
    if not form.validate_on_submit() or not form.request_key.data:
        flash("The form expired; please try again.", "error")
        return _order_page(found, 400)
    amounts: dict[int, int] | None = {}
    try:
        for line in found.lines:
            text = (request.form.get(f"line-{line.id}") or "").strip()
            if text:
                cents = parse_major(text, found.currency)
                if cents:
                    amounts[line.id] = cents
    except MoneyError as exc:
        flash(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", "error")
        return _order_page(found, 400, refund_form=form)
    if form.everything.data:
        amounts = None  # the refund service takes all that is left, shipping included
    elif not amounts and not form.include_shipping.data:
        flash("Enter an amount for at least one line, or refund the shipping.", "error")
        return _order_page(found, 400, refund_form=form)
    key = f"admin-refund-{found.id}-{form.request_key.data[:40]}"
    number = found.number
    before = snapshot(found, ["status", "refunded_amount"])
    try:
        done = refund_order(
            found, gateway(), line_amounts=amounts, include_shipping=form.include_shipping.data,
            idempotency_key=key, reason=(form.reason.data or "").strip(),
        )  # fmt: skip
    except (RefundError, GatewayError) as exc:
        db.session.rollback()
        flash(f"Nothing was refunded: {exc}", "error")
        return redirect(url_for("admin.order", order_id=order_id))
    after = snapshot(found, ["status", "refunded_amount"])
    if after != before:  # a second press of the same form refunds nothing more
        record("order.refund", "order", found.id, summary=f"Refund of order {number}",
               before=before, after={**after, "refund": done.amount})  # fmt: skip
    db.session.commit()
    flash("Refunded through the payment gateway.", "success")
    return redirect(url_for("admin.order", order_id=order_id))


@bp.get("/orders.csv")
def orders_csv():
    status = request.args.get("status") or None

    def rows():
        last = 0
        while True:
            chunk = db.session.scalars(
                _orders_query(status).where(Order.id > last).order_by(Order.id).limit(500)
            ).all()
            if not chunk:
                return
            for o in chunk:
                yield [o.number, o.created_at.isoformat(timespec="seconds"), o.status.value,
                       o.email, o.name, o.country_code, major(o.subtotal), major(o.shipping),
                       major(o.total), major(o.refunded_amount), o.currency, o.tracking_number]  # fmt: skip
            last = chunk[-1].id

    return csv_response(
        "orders.csv",
        [
            "number",
            "placed",
            "status",
            "email",
            "name",
            "country",
            "subtotal",
            "shipping",
            "total",
            "refunded",
            "currency",
            "tracking",
        ],
        rows(),
    )


# --- stock and batches ----------------------------------------------------------------


@bp.get("/stock")
def stock():
    page = page_number()
    query = select(
        Variant.id, Variant.sku, Variant.options, Variant.stock, Product.name, Product.status
    ).join(Variant.product)
    search = (request.args.get("q") or "").strip()
    if search:
        like = f"%{search.replace('%', '').replace('_', '')}%"
        query = query.where(Variant.sku.ilike(like) | Product.name.ilike(like))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(
        query.order_by(Product.name, Variant.position, Variant.sku)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return render_template(
        "admin/stock.html", rows=rows, total=total, page=page, q=search,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), form=AdjustForm(),
    )  # fmt: skip


class AdjustForm(FlaskForm):
    quantity = IntegerField(
        "Change (+ to add, - to remove)",
        validators=[InputRequired(message="Enter a whole number."),
                    NumberRange(min=-100_000, max=100_000)],
    )  # fmt: skip
    reason = StringField(
        "Reason",
        validators=[InputRequired(message="A stock adjustment needs a reason."), Length(max=300)],
    )


@bp.post("/stock/<int:variant_id>/adjust")
def adjust(variant_id: int):
    variant = db.session.get(Variant, variant_id) or abort(404)
    form = AdjustForm()
    if not form.validate_on_submit() or form.quantity.data == 0:
        errors = [e for field in form for e in field.errors] or ["Enter a change other than zero."]
        flash(" ".join(errors), "error")
        return redirect(url_for("admin.movements", variant=variant_id))
    before = variant.stock
    try:
        adjust_stock(variant, form.quantity.data, form.reason.data.strip())
    except ValueError as exc:
        db.session.rollback()
        flash(f"Nothing changed: {exc}", "error")
        return redirect(url_for("admin.movements", variant=variant_id))
    record("stock.adjust", "variant", variant_id, summary=f"{variant.sku}: {form.reason.data.strip()}",
           before={"stock": before}, after={"stock": before + form.quantity.data})  # fmt: skip
    db.session.commit()
    flash("Stock adjusted.", "success")
    return redirect(url_for("admin.movements", variant=variant_id))


@bp.get("/stock/movements")
def movements():
    variant_id = request.args.get("variant", type=int)
    page = page_number()
    query = select(StockMovement).options(joinedload(StockMovement.variant))
    if variant_id:
        query = query.where(StockMovement.variant_id == variant_id)
    rows = db.session.scalars(
        query.order_by(StockMovement.id.desc()).limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)
    ).all()
    variant = db.session.get(Variant, variant_id) if variant_id else None
    return render_template(
        "admin/movements.html", rows=rows[:PER_PAGE], more=len(rows) > PER_PAGE, page=page,
        variant=variant, form=AdjustForm(),
    )  # fmt: skip


@bp.get("/stock.csv")
def stock_csv():
    def rows():
        last = 0
        while True:
            chunk = db.session.execute(
                select(Variant.id, Variant.sku, Product.name, Variant.stock, Variant.price, Variant.currency)
                .join(Variant.product).where(Variant.id > last).order_by(Variant.id).limit(500)
            ).all()  # fmt: skip
            if not chunk:
                return
            for r in chunk:
                yield [r.sku, r.name, r.stock, major(r.price), r.currency]
            last = chunk[-1].id

    return csv_response("stock.csv", ["sku", "product", "stock", "price", "currency"], rows())


class BatchForm(FlaskForm):
    code = StringField("Batch code", validators=[InputRequired(), Length(max=40),
                       Regexp(r"^[A-Za-z0-9][A-Za-z0-9-]*$", message="Letters, digits and dashes only.")])  # fmt: skip
    workshop = SelectField("Workshop", coerce=int, validators=[InputRequired()])
    sku = StringField("Variant SKU", validators=[InputRequired(), Length(max=64)])
    quantity = IntegerField(
        "Quantity", validators=[InputRequired(), NumberRange(min=1, max=100_000)]
    )
    produced_month = StringField(
        "Month produced",
        validators=[InputRequired(), Regexp(r"^\d{4}-\d{2}$", message="Like 2026-03.")],
    )
    materials = StringField("Materials", validators=[Optional(), Length(max=300)])
    makers = StringField(
        "Makers (trainee code:weight; …)", validators=[Optional(), Length(max=2000)]
    )


@bp.route("/batches/new", methods=["GET", "POST"])
def new_batch():
    form = BatchForm()
    form.workshop.choices = [
        SelectChoice(w.id, w.name)
        for w in db.session.execute(select(Workshop.id, Workshop.name).order_by(Workshop.name))
    ]
    status = 200
    if form.validate_on_submit():
        try:
            batch = _record_batch_from(form)
        except (ProvenanceError, FieldError, ValueError) as exc:
            db.session.rollback()
            flash(f"Nothing was recorded: {exc}", "error")
            status = 400
        else:
            record("batch.record", "batch", batch.id, summary=f"Batch {batch.code}: {batch.quantity} x {form.sku.data}",
                   after={"quantity": batch.quantity, "sku": form.sku.data})  # fmt: skip
            code, variant_id = batch.code, batch.variant_id
            db.session.commit()
            flash(f"Batch {code} recorded; its units are in stock.", "success")
            return redirect(url_for("admin.movements", variant=variant_id))
    elif request.method == "POST":
        status = 400
    return render_template("admin/batch.html", form=form), status


def _record_batch_from(form: BatchForm) -> Batch:
    workshop = db.session.get(Workshop, form.workshop.data)
    if workshop is None:
        raise ValueError("choose a workshop")
    variant = db.session.scalars(
        select(Variant)
        .where(Variant.sku == form.sku.data.strip())
        .options(joinedload(Variant.product))
    ).one_or_none()
    if variant is None:
        raise ValueError(f"there is no variant with SKU {form.sku.data.strip()}")
    if variant.product.workshop_id != workshop.id:
        raise ValueError(f"{variant.sku} is not made at {workshop.name}")
    if db.session.scalar(select(Batch.id).where(Batch.code == form.code.data.strip())):
        raise ValueError(f"batch {form.code.data.strip()} is already recorded")
    year, month = (int(p) for p in form.produced_month.data.split("-"))
    if not 1 <= month <= 12 or date(year, month, 1) > today():
        raise ValueError("the month produced must be a real month, not in the future")
    wanted = parse_makers(form.makers.data or "", "makers")
    trainees = {
        t.code: t
        for t in db.session.scalars(select(Trainee).where(Trainee.code.in_([c for c, _ in wanted])))
    }
    for code, _ in wanted:
        if code not in trainees:
            raise ValueError(f"there is no trainee {code}")
        if trainees[code].workshop_id != workshop.id:
            raise ValueError(f"trainee {code} is not at {workshop.name}")
    return record_batch(
        code=form.code.data.strip(), workshop=workshop, variant=variant, quantity=form.quantity.data,
        produced_month=date(year, month, 1), materials=(form.materials.data or "").strip(),
        makers=[(trainees[c], w) for c, w in wanted],
    )  # fmt: skip


# --- the audit log -------------------------------------------------------------------------


@bp.get("/audit")
def audit():
    return audit_page()
