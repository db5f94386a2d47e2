"""Admin: orders (list, detail, shipping, cancelling, refunds) and their CSV."""

from __future__ import annotations

import secrets

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import InputRequired, Length, Optional

from shop.admin.blueprint import PER_PAGE, bp
from shop.admin.order_list import (
    REFUNDS,
    SORT_LABELS,
    STATUSES,
    OrderFilters,
    line_thumbnails,
    order_page,
    orders_query,
    read_filters,
)
from shop.audit.services import record
from shop.extensions import db
from shop.list_args import ListArgs
from shop.money import MoneyError, parse_major
from shop.orders.gateways import GatewayError, gateway
from shop.orders.holds import cancel_unpaid
from shop.orders.models import Order, OrderStatus, Refund, RefundStatus
from shop.orders.notifications import refund_notice_after_commit
from shop.orders.payments import succeeded_payment
from shop.orders.refunds import RefundError, refund_order
from shop.orders.shipping import ShippingError, ship_and_tell
from shop.orders.states import PAID_STATES, IllegalTransition
from shop.orders.timeline import order_timeline
from shop.unit_of_work import abandon
from shop.web import csv_response, major, page_number


def _list_filters() -> tuple[ListArgs, OrderFilters]:
    args = ListArgs(request.args)
    return args, read_filters(args)


@bp.get("/orders")
def orders():
    args, filters = _list_filters()
    page = page_number()
    rows, total = ([], 0) if args.problems else order_page(filters, page, PER_PAGE)
    return render_template(
        "admin/orders.html", orders=rows, total=total, page=page, filters=filters, args=args,
        kept=args.kept, pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), statuses=STATUSES,
        refund_statuses=REFUNDS, sorts=SORT_LABELS,
        thumbnails=line_thumbnails([o.id for o in rows]), bulk_form=EmptyForm(),
    ), 400 if args.problems else 200  # fmt: skip


def _order_or_404(order_id: int, *, lock: bool = False, reservations: bool = False) -> Order:
    query = (
        select(Order)
        .where(Order.id == order_id)
        .options(
            selectinload(Order.lines),
            selectinload(Order.payments),
            selectinload(Order.refunds).selectinload(Refund.lines),
        )
        # Rows this session met before (a refund booked by a job earlier in the request)
        # would keep their unloaded collections: read them afresh, with what the page shows.
        .execution_options(populate_existing=True)
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
        timeline=order_timeline(order),
        can_ship=order.status == OrderStatus.PAID and order.refund_status != RefundStatus.FULL,
        unsold_paid=order.status not in PAID_STATES and succeeded_payment(order) is not None
        and order.refund_status != RefundStatus.FULL,
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
    try:
        ship_and_tell(found, form.tracking_number.data)
    except ShippingError as exc:
        abandon()
        flash(str(exc), "error")
        return redirect(url_for("admin.order", order_id=order_id))
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
        abandon()
        flash("Only an unpaid order can be cancelled; refund a paid one instead.", "error")
        return redirect(url_for("admin.order", order_id=order_id))
    record("order.cancel", "order", found.id, summary=f"Order {found.number} cancelled")
    flash("Order cancelled; its held stock is back on sale.", "success")
    return redirect(url_for("admin.order", order_id=order_id))


@bp.post("/orders/<int:order_id>/refund")
def refund(order_id: int):
    found = _order_or_404(order_id)
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
    try:  # one refund service (locks, gateway, booking, audit), as the command uses
        done = refund_order(
            order_id, gateway(), line_amounts=amounts, include_shipping=form.include_shipping.data,
            idempotency_key=key, reason=(form.reason.data or "").strip(),
        )  # fmt: skip
    except (RefundError, GatewayError) as exc:
        abandon()
        flash(f"Nothing was refunded: {exc}", "error")
        return redirect(url_for("admin.order", order_id=order_id))
    refund_notice_after_commit(done.to_tell)
    if done.refund is None:
        flash(done.note, "error")
    else:
        flash("Refunded through the payment gateway.", "success")
    return redirect(url_for("admin.order", order_id=order_id))


@bp.get("/orders.csv")
def orders_csv():
    args, filters = _list_filters()
    if args.problems:
        return render_template("error.html", code=400, title="That list cannot be downloaded",
                               message=" ".join(m for _f, m in args.problems)), 400  # fmt: skip

    def rows():
        last = 0
        while True:
            chunk = db.session.scalars(
                orders_query(filters).where(Order.id > last).order_by(Order.id).limit(500)
            ).all()
            if not chunk:
                return
            for o in chunk:
                yield [o.number, o.created_at.isoformat(timespec="seconds"), o.status.value,
                       o.refund_status.value, o.email, o.name, o.country_code, major(o.subtotal), major(o.shipping),
                       major(o.total), major(o.refunded_amount), o.currency, o.tracking_number]  # fmt: skip
            last = chunk[-1].id

    return csv_response(
        "orders.csv",
        [
            "number",
            "placed",
            "status",
            "refund_status",
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
