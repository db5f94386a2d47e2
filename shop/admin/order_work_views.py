"""Admin: work on several orders at once (mark them shipped, print their packing slips)
and internal notes on one order. The orders come ticked from the orders list, as
`order` fields of a plain form (no script needed); every form carries the CSRF token."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.admin.blueprint import bp
from shop.admin.order_views import NoteForm, _order_or_404, _order_page
from shop.extensions import db
from shop.form_problems import add_problem
from shop.i18n import force_language
from shop.orders.models import LineAllocation, Order, OrderLine
from shop.orders.notes import NoteRefused, add_note
from shop.orders.shipping import (
    MAX_SHIPPED_AT_ONCE,
    TRACKING_MAX,
    ship_several,
    why_no_packing_slip,
    why_not_shippable,
)
from shop.unit_of_work import abandon
from shop.web import whole_number


class TickedForm(FlaskForm):
    """Only the CSRF token; the ticked orders are read from `order` fields."""


def _ticked() -> list[int] | None:
    """The ticked orders' ids, once each, in the order ticked; None when any is not an id."""
    ids = [whole_number(value, minimum=1) for value in request.form.getlist("order")]
    if None in ids:
        return None
    return list(dict.fromkeys(ids))


def _refuse_selection(ids: list[int] | None):
    """A message when the ticked orders cannot be worked on, else None."""
    if ids is None:
        return _("The orders ticked were not understood; tick them again.")
    if not ids:
        return _("Tick at least one order first.")
    if len(ids) > MAX_SHIPPED_AT_ONCE:
        return _("Tick at most %(most)s orders at once.", most=MAX_SHIPPED_AT_ONCE)
    return None


def _orders(ids: list[int], *, slips: bool = False) -> list[Order]:
    query = select(Order).where(Order.id.in_(ids)).order_by(Order.id)
    lines = selectinload(Order.lines)
    if slips:  # every line's batches, for their codes
        lines = lines.selectinload(OrderLine.allocations).joinedload(LineAllocation.batch)
    return list(db.session.scalars(query.options(lines)).all())


def _unknown(ids: list[int], orders: list[Order]) -> list[str]:
    found = {o.id for o in orders}
    return [_("There is no order #%(id)s.", id=i) for i in ids if i not in found]


def _back() -> str:
    """The orders list as it was when the orders were ticked (its filters and page), from
    the form's `back` field; only ever a page of the orders list, never another site."""
    back, home = request.form.get("back") or "", url_for("admin.orders")
    if (back == home or back.startswith(home + "?")) and not any(c in back for c in "\\\r\n"):
        return back
    return home


def _can_ship(order: Order) -> bool:
    return why_not_shippable(order) is None


@bp.post("/orders/ship")
def ship_several_orders():
    """First the review (a tracking number for each ticked order that can ship), then,
    with `confirm`, the shipping itself."""
    if not TickedForm().validate_on_submit():
        abort(400)
    ids = _ticked()
    problem = _refuse_selection(ids)
    if problem:
        flash(problem, "error")
        return redirect(_back(), 303)
    orders = _orders(ids)
    if not request.form.get("confirm"):  # the review: also says which orders cannot ship
        refused = _unknown(ids, orders)
        if refused:
            flash(" ".join(refused), "error")
        return _review(orders)
    tracking = {o.id: (request.form.get(f"tracking-{o.id}") or "").strip() for o in orders}
    missing = {o.id for o in orders if _can_ship(o) and not 0 < len(tracking[o.id]) <= TRACKING_MAX}
    if missing:  # a field to correct: nothing is shipped until every number is there
        return _review(orders, missing=missing, status=400)
    done = ship_several({o.id: tracking[o.id] for o in orders if _can_ship(o)})
    if done.shipped:
        flash(ngettext("Shipped %(num)d order: %(numbers)s. Each buyer is sent the shipping notice.",
                       "Shipped %(num)d orders: %(numbers)s. Each buyer is sent the shipping notice.",
                       len(done.shipped), numbers=", ".join(done.shipped)), "success")  # fmt: skip
    for why in (
        done.refused
        + [why_not_shippable(o) for o in orders if not _can_ship(o)]
        + _unknown(ids, orders)
    ):
        flash(_("Not shipped: %(why)s", why=why), "error")
    return redirect(_back(), 303)


def _review(orders: list[Order], *, missing: frozenset | set = frozenset(), status: int = 200):
    shippable = [o for o in orders if _can_ship(o)]
    refused = [why_not_shippable(o) for o in orders if not _can_ship(o)]
    return render_template(
        "admin/ship_several.html", shippable=shippable, refused=refused, missing=missing,
        form=TickedForm(), tracking_max=TRACKING_MAX, back=_back(),
    ), status  # fmt: skip


@bp.post("/orders/packing-slips")
def packing_slips():
    """One printable page per ticked order that has something to ship (or was shipped: a
    slip printed again); the others are left out, each named with the reason bulk
    shipping gives. A POST like the rest of the list's form (its CSRF token stays out of
    addresses and logs); it changes nothing."""
    if not TickedForm().validate_on_submit():
        abort(400)
    ids = _ticked()
    problem = _refuse_selection(ids)
    if problem:
        flash(problem, "error")
        return redirect(_back(), 303)
    orders = _orders(ids, slips=True)
    printed = [o for o in orders if why_no_packing_slip(o) is None]
    left_out = [why for o in orders if (why := why_no_packing_slip(o))] + _unknown(ids, orders)
    return render_template(
        "admin/packing_slips.html", slips=[_slip(o) for o in printed], left_out=left_out,
        back=_back(),
    )  # fmt: skip


def _slip(order: Order) -> Markup:
    """One slip, in the language the buyer shopped in: it goes in her parcel."""
    with force_language(order.language):
        return Markup(render_template("admin/_packing_slip.html", order=order))  # noqa: S704 (rendered by Jinja, escaped)


@bp.post("/orders/<int:order_id>/notes")
def add_order_note(order_id: int):
    """A refused note answers with the order page (400): the problem beside the note
    field, the note as typed still in it."""
    order = db.session.get(Order, order_id) or abort(404)
    form = NoteForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        add_note(order, form.body.data or "", current_user)
    except NoteRefused as exc:
        add_problem(form, str(exc), "body")
        page = _order_page(_order_or_404(order_id), 400, note_form=form)
        abandon()  # after rendering: the rollback would expire what the page reads
        return page
    flash(_("Note added. Only the back office sees it."), "success")
    return redirect(url_for("admin.order", order_id=order_id, _anchor="timeline"), 303)
