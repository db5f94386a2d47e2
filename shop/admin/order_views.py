"""Admin: orders (list, detail, shipping, cancelling, refunds) and their CSV."""

from __future__ import annotations

import secrets
from functools import partial

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import Optional

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
from shop.confirmations import (
    ConfirmationRefused,
    confirm_page,
    confirmation_token,
    refused_page,
    use_confirmation,
)
from shop.extensions import db
from shop.form_problems import at_most, required
from shop.list_args import ListArgs
from shop.money import MoneyError, as_sentence, money_text, parse_major
from shop.orders import refund_plans
from shop.orders.gateways import GatewayError, gateway
from shop.orders.holds import cancel_unpaid, why_not_cancellable
from shop.orders.models import Order, Refund, RefundStatus, ReservationStatus
from shop.orders.notifications import refund_notice_after_commit
from shop.orders.payments import succeeded_payment
from shop.orders.refunds import RefundError, refund_order
from shop.orders.shipping import TRACKING_MAX, ShippingError, ship_and_tell, why_not_shippable
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
    tracking_number = StringField(_l("Tracking number"), validators=[
        required(_l("Enter the tracking number the carrier gave the parcel.")),
        at_most(TRACKING_MAX, "A tracking number")])  # fmt: skip


class RefundForm(FlaskForm):
    everything = BooleanField(_l("Refund the whole order (everything not yet refunded)"))
    include_shipping = BooleanField(_l("Refund the shipping too"))
    reason = StringField(_l("Reason"), validators=[Optional(), at_most(300, "A reason")])
    request_key = HiddenField()


class NoteForm(FlaskForm):
    """An internal note; what a note may hold is shop.orders.notes' rule (add_note)."""

    body = TextAreaField(_l("Internal note"), id="note-body", render_kw={"rows": 3})


class EmptyForm(FlaskForm):
    """Only the CSRF token: for buttons."""


def _order_page(order: Order, status: int = 200, **forms):
    refund_form = forms.get("refund_form") or RefundForm()
    if not refund_form.request_key.data:
        refund_form.request_key.data = secrets.token_urlsafe(16)
    return render_template(
        "admin/order.html", order=order, ship_form=forms.get("ship_form") or ShipForm(),
        refund_form=refund_form, button_form=EmptyForm(), paid_states=PAID_STATES,
        note_form=forms.get("note_form") or NoteForm(), timeline=order_timeline(order),
        can_ship=why_not_shippable(order) is None,
        can_cancel=why_not_cancellable(order) is None,
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
    if not form.validate_on_submit():  # said beside the field, and in the error summary
        return _order_page(found, 400, ship_form=form)
    try:
        ship_and_tell(found, form.tracking_number.data)
    except ShippingError as exc:
        abandon()
        flash(str(exc), "error")
        return redirect(url_for("admin.order", order_id=order_id))
    flash(_("Marked as shipped; the buyer was sent the shipping notice."), "success")
    return redirect(url_for("admin.order", order_id=order_id))


def _gateway_name(order: Order) -> str:
    return "Stripe" if order.gateway == "stripe" else _("the test-mode gateway (no money moves)")


def _number(order: Order) -> Markup:
    """The order's number kept on one line ('MK-' alone at a line's end reads badly)."""
    return Markup('<span class="nowrap">{}</span>').format(order.number)


def _markup(message: str, **values: object) -> Markup:
    """A translated sentence around values that may be markup (the order's number):
    the sentence is escaped, and so is every value that is not markup already."""
    return escape(message) % values


def _refused(exc: ConfirmationRefused, order_id: int):
    return refused_page(exc, area="admin", back_url=url_for("admin.order", order_id=order_id),
                        back_label=_("Back to the order"))  # fmt: skip


@bp.get("/orders/<int:order_id>/cancel")
def confirm_cancel(order_id: int):
    found = _order_or_404(order_id, reservations=True)
    why_not = why_not_cancellable(found)
    if why_not:
        flash(why_not, "error")
        return redirect(url_for("admin.order", order_id=order_id))
    held = sum(r.quantity for r in found.reservations if r.status == ReservationStatus.HELD)
    return confirm_page(
        area="admin", question=_markup(_("Cancel unpaid order %(number)s?"), number=_number(found)),
        yes=_("Yes, cancel order %(number)s", number=found.number), action_url=url_for("admin.cancel", order_id=order_id),
        back_url=url_for("admin.order", order_id=order_id),
        token=confirmation_token("order.cancel", found.id, found.total),
        facts=[(_("Order total"), money_text(found.total, found.currency)), (_("Units held"), str(held))],
        notes=[_("The buyer can no longer pay for it, and its held units go back on sale at once.")],
    )  # fmt: skip


@bp.post("/orders/<int:order_id>/cancel")
def cancel(order_id: int):
    found = _order_or_404(order_id, lock=True, reservations=True)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        confirmed = use_confirmation("order.cancel", found.id)
    except ConfirmationRefused as exc:
        return _refused(exc, order_id)
    why_not = why_not_cancellable(found)  # cancelled in another tab meanwhile, say
    if why_not is None and confirmed.amount != found.total:  # never act unseen
        why_not = _(
            "Order %(number)s changed after the confirmation page: nothing was done.",
            number=found.number,
        )
    if why_not is None:
        try:
            cancel_unpaid(found)
        except IllegalTransition as exc:
            why_not = _(
                "Order %(number)s cannot be cancelled: %(why)s.", number=found.number, why=exc.why
            )
    if why_not:
        abandon()
        flash(why_not, "error")
        return redirect(url_for("admin.order", order_id=order_id))
    record("order.cancel", "order", found.id, summary=f"Order {found.number} cancelled")
    flash(_("Order cancelled; its held stock is back on sale."), "success")
    return redirect(url_for("admin.order", order_id=order_id))


def _refund_asked(found: Order, form: RefundForm) -> tuple[dict[int, int] | None, bool] | str:
    """What the refund form asks for, (amount per line id or None for everything, the
    shipping too), or the message saying what to correct."""
    amounts: dict[int, int] = {}
    try:
        for line in found.lines:
            text = (request.form.get(f"line-{line.id}") or "").strip()
            if text:
                cents = parse_major(text, found.currency)
                if cents:
                    amounts[line.id] = cents
    except MoneyError as exc:
        return as_sentence(exc)
    if form.everything.data:
        return None, True  # everything left, shipping included
    if not amounts and not form.include_shipping.data:
        return _("Enter an amount for at least one line, or refund the shipping.")
    return amounts, bool(form.include_shipping.data)


@bp.post("/orders/<int:order_id>/refund/confirm")
def confirm_refund(order_id: int):
    """The refund form's answer: what exactly would be refunded, with the button that
    does it. Nothing is written."""
    found = _order_or_404(order_id)
    form = RefundForm()
    if not form.validate_on_submit() or not form.request_key.data:
        flash(_("The form expired; please try again."), "error")
        return _order_page(found, 400)
    asked = _refund_asked(found, form)
    if isinstance(asked, str):
        flash(asked, "error")
        return _order_page(found, 400, refund_form=form)
    amounts, include_shipping = asked
    payment = succeeded_payment(found)
    try:
        by_line, shipping = refund_plans.plan_for(
            found, payment.amount if payment else None, amounts, include_shipping,
            refund_plans.claimed(found.id),
        )  # fmt: skip
    except RefundError as exc:
        flash(_("Nothing was refunded: %(reason)s", reason=exc), "error")
        return _order_page(found, 400, refund_form=form)
    total, money = sum(by_line.values()) + shipping, partial(money_text, currency=found.currency)
    lines = {line.id: line for line in found.lines}
    facts = [(f"{lines[lid].product_name} ({lines[lid].sku})", money(amount))
             for lid, amount in sorted(by_line.items())]  # fmt: skip
    if shipping:
        facts.append(
            (_("Shipping") if found.status in PAID_STATES else _("The payment"), money(shipping))
        )
    reason = (form.reason.data or "").strip()
    if reason:
        facts.append((_("Reason"), reason))
    details = {"lines": None if amounts is None else {str(k): v for k, v in amounts.items()},
               "shipping": include_shipping, "reason": reason, "key": form.request_key.data[:40]}  # fmt: skip
    return confirm_page(
        area="admin", question=_markup(_("Refund %(amount)s on %(number)s through %(gateway)s?"),
            amount=money(total), number=_number(found), gateway=_gateway_name(found)),
        yes=_("Yes, refund %(amount)s", amount=money(total)), action_url=url_for("admin.refund", order_id=order_id),
        back_url=url_for("admin.order", order_id=order_id), facts=facts,
        token=confirmation_token("order.refund", found.id, total, details),
        notes=[_("The buyer is emailed a refund notice. The makers' training accounts give back "
                 "the same share of each line that was credited for it.")
               if by_line else _("No maker's share is taken back: none was credited for this money.")],
    )  # fmt: skip


@bp.post("/orders/<int:order_id>/refund")
def refund(order_id: int):
    found = _order_or_404(order_id)
    if not EmptyForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return _order_page(found, 400)
    try:
        confirmed = use_confirmation("order.refund", found.id)
    except ConfirmationRefused as exc:
        return _refused(exc, order_id)
    asked = confirmed.details
    amounts = None if asked.get("lines") is None else {int(k): v for k, v in asked["lines"].items()}
    # The key the form was given: a refund asked for twice (two confirmation pages of one
    # form) is made once, here and at the gateway.
    key = f"admin-refund-{found.id}-{asked.get('key', confirmed.nonce)}"
    try:  # one refund service (locks, gateway, booking, audit), as the command uses
        done = refund_order(
            order_id, gateway(), line_amounts=amounts, include_shipping=bool(asked.get("shipping")),
            idempotency_key=key, reason=asked.get("reason", ""), expected_amount=confirmed.amount,
        )  # fmt: skip
    except (RefundError, GatewayError) as exc:
        abandon()
        flash(_("Nothing was refunded: %(reason)s", reason=exc), "error")
        return redirect(url_for("admin.order", order_id=order_id))
    refund_notice_after_commit(done.to_tell)
    if done.refund is None:
        flash(done.note, "error")
    elif not done.booked_now:
        flash(_("That refund was made before; nothing more was refunded."), "success")
    else:
        flash(_("Refunded through the payment gateway."), "success")
    return redirect(url_for("admin.order", order_id=order_id))


@bp.get("/orders.csv")
def orders_csv():
    args, filters = _list_filters()
    if args.problems:
        return render_template("error.html", code=400, title=_("That list cannot be downloaded"),
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
            _("number"),
            _("placed"),
            _("status"),
            _("refund_status"),
            _("email"),
            _("name"),
            _("country"),
            _("subtotal"),
            _("shipping"),
            _("total"),
            _("refunded"),
            _("currency"),
            _("tracking"),
        ],
        rows(),
    )
