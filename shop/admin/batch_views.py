"""Admin: the production batches, their passports, and "Recall batch" (with its
confirmation page, shop/confirmations.py): a recall revokes every version of the
batch's passport for anyone who checks it."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import escape
from sqlalchemy import func, select

from shop.admin.blueprint import PER_PAGE, bp
from shop.admin.order_views import EmptyForm
from shop.catalog.models import Product, Variant, options_label
from shop.confirmations import (
    ConfirmationRefused,
    confirm_page,
    confirmation_token,
    refused_page,
    use_confirmation,
)
from shop.database import contains_text
from shop.extensions import db
from shop.passports.models import Credential
from shop.passports.recall import RecallRefused, recall_batch
from shop.provenance.models import Batch, Workshop
from shop.unit_of_work import abandon
from shop.web import page_number

RECALL = "batch.recall"


def _passports():
    """(batch id, versions issued) of every batch's passport."""
    return (
        select(Credential.batch_id, func.max(Credential.version).label("versions"))
        .where(Credential.batch_id.is_not(None))
        .group_by(Credential.batch_id)
        .subquery()
    )


def _rows():
    passports = _passports()
    return (
        select(
            Batch.id, Batch.code, Batch.produced_month, Batch.quantity, Batch.recalled_at,
            Product.name.label("product"), Variant.options, Variant.sku,
            Workshop.name.label("workshop"), Workshop.status.label("workshop_status"),
            passports.c.versions,
        )
        .join(Variant, Batch.variant_id == Variant.id)
        .join(Product, Variant.product_id == Product.id)
        .join(Workshop, Batch.workshop_id == Workshop.id)
        .outerjoin(passports, passports.c.batch_id == Batch.id)
    )  # fmt: skip


@bp.get("/batches")
def batches():
    """Every batch, newest first (two statements whatever their number)."""
    page = page_number()
    query = _rows()
    search = (request.args.get("q") or "").strip()[:200]
    if search:
        query = query.where(contains_text(Batch.code, Product.name, Variant.sku, text=search))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(
        query.order_by(Batch.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    return render_template(
        "admin/batches.html", rows=rows, total=total, page=page, q=search,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), options_label=options_label,
    )  # fmt: skip


def _batch_or_404(batch_id: int):
    row = db.session.execute(_rows().where(Batch.id == batch_id)).one_or_none()
    return row or abort(404)


@bp.get("/batches/<int:batch_id>/recall")
def confirm_recall(batch_id: int):
    row = _batch_or_404(batch_id)
    if row.recalled_at is not None:
        flash(_("Batch %(code)s was recalled already.", code=row.code), "error")
        return redirect(url_for("admin.batches", q=row.code))
    variant = options_label(row.options or {})
    versions = row.versions or 0
    return confirm_page(
        area="admin", question=escape(_("Recall batch %(code)s?")) % {"code": row.code},
        yes=_("Yes, recall batch %(code)s", code=row.code), action_url=url_for("admin.recall", batch_id=batch_id),
        back_url=url_for("admin.batches", q=row.code), token=confirmation_token(RECALL, row.id, 0),
        facts=[(_("Product"), f"{row.product}{f' ({variant})' if variant else ''} · {row.sku}"),
               (_("Workshop"), row.workshop), (_("Made"), row.produced_month.strftime("%Y-%m")),
               (_("Units made"), str(row.quantity)), (_("Passport versions"), str(versions))],
        notes=[_("Every version of its passport (%(versions)s) will read as revoked to anyone "
                 "who checks it, from the moment you confirm. A recall cannot be undone.",
                 versions=versions),
               _("Its units stay in stock: correct the stock if they must not be sold.")],
    )  # fmt: skip


@bp.post("/batches/<int:batch_id>/recall")
def recall(batch_id: int):
    found = db.session.get(Batch, batch_id) or abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    back = url_for("admin.batches", q=found.code)
    try:
        use_confirmation(RECALL, found.id)
    except ConfirmationRefused as exc:
        return refused_page(exc, area="admin", back_url=back, back_label=_("Back to the batches"))
    try:
        recall_batch(found)
    except RecallRefused as exc:
        abandon()
        flash(_("Nothing was changed: %(reason)s.", reason=exc), "error")
        return redirect(back)
    flash(
        _("Batch %(code)s recalled: its passport now reads as revoked.", code=found.code), "success"
    )
    return redirect(back)
