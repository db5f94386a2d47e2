"""Admin: stock (search, adjustments, movements, CSV) and recording production batches."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from shop.admin.blueprint import PER_PAGE, bp
from shop.admin.catalog_forms import STATUS_LABELS
from shop.audit.services import record
from shop.catalog.admin_services import workshop_variants
from shop.catalog.models import Product, StockMovement, Variant
from shop.csv_import import FieldError, integer
from shop.database import contains_text
from shop.extensions import db
from shop.form_problems import add_problem, at_most, required, sentence
from shop.provenance.batch_units import adjust_on_hand
from shop.provenance.importers import any_month, parse_makers
from shop.provenance.models import Workshop
from shop.provenance.services import BatchDraft, ProvenanceError, record_batch
from shop.provenance.trainees import makers_to_pick
from shop.unit_of_work import abandon
from shop.web import WholeNumberField, csv_response, int_arg, major, page_number


@bp.get("/stock")
def stock():
    page = page_number()
    query = select(
        Variant.id, Variant.sku, Variant.options, Variant.on_hand, Variant.reserved,
        Variant.available.label("available"), Product.name, Product.status,
    ).join(Variant.product)  # fmt: skip
    search = (request.args.get("q") or "").strip()
    if search:
        query = query.where(contains_text(Variant.sku, Product.name, text=search))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(
        query.order_by(Product.name, Variant.position, Variant.sku)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return render_template(
        "admin/stock.html", rows=rows, total=total, page=page, q=search,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), form=AdjustForm(),
        product_statuses=STATUS_LABELS,
    )  # fmt: skip


class AdjustForm(FlaskForm):
    quantity = WholeNumberField(
        _l("Change to the units on the shelf (- lost or damaged, + found again after a write-off)"),
        validators=[required(_l("Enter a whole number: the units lost (like -2) or found (like 3).")),
                    NumberRange(min=-100_000, max=100_000,
                                message=_l("Enter a change between -100,000 and 100,000."))],
    )  # fmt: skip
    reason = StringField(
        _l("Reason"),
        validators=[required(_l("A stock adjustment needs a reason: say why the count changed.")),
                    at_most(300, "A reason")],
    )  # fmt: skip


@bp.post("/stock/<int:variant_id>/adjust")
def adjust(variant_id: int):
    """A refused correction answers with the movements page (400): the problem beside its
    field, what was typed kept."""
    variant = db.session.get(Variant, variant_id) or abort(404)
    form = AdjustForm()
    if form.validate_on_submit() and form.quantity.data == 0:
        add_problem(form, _("Enter a change other than zero, like -2 or 3."), "quantity")
    if form.errors:
        return _movements_page(variant_id, form, 400)
    before = variant.on_hand
    try:
        movement = adjust_on_hand(variant, form.quantity.data, form.reason.data.strip())
    except ValueError as exc:  # refused in a savepoint: the page reads the counts unchanged
        add_problem(form, sentence(_("Nothing changed: %(reason)s", reason=exc)), "quantity")
        page = _movements_page(variant_id, form, 400)
        abandon()
        return page
    record("stock.adjust", "variant", variant_id, summary=f"{variant.sku}: {form.reason.data.strip()}",
           before={"on_hand": before}, after={"on_hand": movement.stock_after})  # fmt: skip
    flash(_("The units on the shelf were corrected."), "success")
    return redirect(url_for("admin.movements", variant=variant_id))


@bp.get("/stock/movements")
def movements():
    return _movements_page(int_arg("variant"), AdjustForm())


def _movements_page(variant_id: int | None, form: AdjustForm, status: int = 200):
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
        variant=variant, form=form, movement_kinds=movement_kinds(),
    ), status  # fmt: skip


@bp.get("/stock.csv")
def stock_csv():
    def rows():
        last = 0
        while True:
            chunk = db.session.execute(
                select(Variant.id, Variant.sku, Product.name, Variant.on_hand, Variant.reserved,
                       Variant.available.label("available"), Variant.price, Variant.currency)
                .join(Variant.product).where(Variant.id > last).order_by(Variant.id).limit(500)
            ).all()  # fmt: skip
            if not chunk:
                return
            for r in chunk:
                yield [
                    r.sku,
                    r.name,
                    r.on_hand,
                    r.reserved,
                    r.available,
                    major(r.price),
                    r.currency,
                ]
            last = chunk[-1].id

    header = [_("sku"), _("product"), _("on_hand"), _("reserved"), _("available"), _("price"),
              _("currency")]  # fmt: skip
    return csv_response("stock.csv", header, rows())


CHOOSE_BATCH_WORKSHOP = _l("Choose the workshop that made the batch.")


class BatchForm(FlaskForm):
    # Only what is needed to read the form; the rules a batch must meet are all in
    # shop.provenance.services.batch_problems, shared with the CSV import.
    code = StringField(_l("Batch code"), validators=[
        required(_l("Enter the batch code, as printed on the tag, like %(example)s.",
                    example="MS-2026-03-BHB-N")),
        at_most(200, "A batch code")])  # fmt: skip
    workshop = SelectField(_l("Workshop"), coerce=int, validators=[required(CHOOSE_BATCH_WORKSHOP)],
                           invalid_value_message=CHOOSE_BATCH_WORKSHOP,
                           invalid_choice_message=CHOOSE_BATCH_WORKSHOP)  # fmt: skip
    # Offered from the workshop's variants; any SKU is read, and batch_problems says
    # what is wrong with one that is not there (as the import does).
    sku = SelectField(_l("Variant"), validate_choice=False,
                      validators=[required(_l("Choose the variant the batch is of.")),
                                  at_most(200, "A SKU")])  # fmt: skip
    quantity = WholeNumberField(
        _l("Quantity"), validators=[required(_l("Enter the number of units made, like 24."))]
    )
    produced_month = StringField(_l("Month produced"), validators=[
        required(_l("Enter the month the batch was made, like %(example)s.", example="2026-03")),
        at_most(20, "A month")])  # fmt: skip
    materials = StringField(_l("Materials"), validators=[Optional(), at_most(300, "The materials")])
    makers = StringField(
        _l("Makers by code (trainee code:weight; …)"),
        validators=[Optional(), at_most(2000, "The makers typed")],
    )


# Labels for the fields batch_problems names (the import's column names).
BATCH_FIELD_LABELS = {"code": _l("Batch code"), "workshop_slug": _l("Workshop"), "sku": _l("Variant"),
                      "quantity": _l("Quantity"), "produced_month": _l("Month produced"),
                      "makers": _l("Makers")}  # fmt: skip


def movement_kinds() -> dict[str, str]:
    """What each kind of stock movement is called on the movements page (the stored kind
    stays the code)."""
    return {"batch": _("Batch"), "adjustment": _("Adjustment"), "sale": _("Sale"),
            "reservation": _("Reservation"), "release": _("Release")}  # fmt: skip


def _variant_label(sku: str, product: str, options: dict | None) -> str:
    shown = ", ".join(f"{k}: {v}" for k, v in (options or {}).items())
    return f"{product}{f' ({shown})' if shown else ''} · {sku}"


@bp.route("/batches/new", methods=["GET", "POST"])
def new_batch():
    """Two steps, no script: choose the workshop (a GET form), then the batch, offered
    that workshop's variants and its active makers by code and alias to pick from."""
    form = BatchForm()
    workshops = db.session.execute(
        select(Workshop.id, Workshop.name, Workshop.slug).order_by(Workshop.name)
    ).all()
    form.workshop.choices = [SelectChoice(w.id, w.name) for w in workshops]
    slugs = {w.id: w.slug for w in workshops}
    chosen = form.workshop.data if request.method == "POST" else int_arg("workshop")
    chosen = chosen if chosen in slugs else None
    form.workshop.data = chosen
    variants = workshop_variants(chosen) if chosen else []
    makers = makers_to_pick(chosen) if chosen else []
    form.sku.choices = [SelectChoice("", _("Choose a variant"))] + [
        SelectChoice(v.sku, _variant_label(v.sku, v.name, v.options)) for v in variants
    ]
    status, weight_errors = 200, {}
    if request.method == "POST" and chosen is None:
        flash(str(CHOOSE_BATCH_WORKSHOP), "error")  # the first step again: its one field
        status = 400
    elif form.validate_on_submit():
        try:
            batch = record_batch(_draft_from(form, slugs, makers))
        except (ProvenanceError, FieldError) as exc:
            abandon()
            problems = getattr(exc, "problems", None) or [(getattr(exc, "column", ""), str(exc))]
            for column, message in problems:
                _batch_problem(form, weight_errors, column, message)
            status = 400
        else:
            code, variant_id = batch.code, batch.variant_id
            flash(_("Batch %(code)s recorded; its units are in stock.", code=code), "success")
            return redirect(url_for("admin.movements", variant=variant_id))
    elif request.method == "POST":
        status = 400
    return render_template(
        "admin/batch.html", form=form, chosen=chosen, makers=makers, weights=_weights_typed(makers),
        workshop_name=next((w.name for w in workshops if w.id == chosen), ""),
        weight_errors=weight_errors,
        problems=[(text, f"#maker-{mid}") for mid, text in weight_errors.items()],
    ), status  # fmt: skip


def _batch_problem(form: BatchForm, weight_errors: dict, column: str, message: str) -> None:
    """A refused batch's problem, said once: beside its field (a maker's weight beside it
    in the makers table), else in the error summary."""
    if column.startswith("maker-"):  # a weight typed in the makers table: said as read
        weight_errors[int(column.removeprefix("maker-"))] = f"{message}."
        return
    label = BATCH_FIELD_LABELS.get(column)
    add_problem(
        form,
        _("%(field)s: %(problem)s.", field=label, problem=message) if label else sentence(message),
        column,
    )


def _weights_typed(makers: list) -> dict[int, str]:
    """The weights typed beside the listed makers, shown again on a refused form."""
    return {m.id: (request.form.get(f"maker-{m.id}") or "").strip()[:12] for m in makers}


def _draft_from(form: BatchForm, workshop_slugs: dict[int, str], listed: list) -> BatchDraft:
    """The form's text read into a draft (FieldError when a value cannot be read): the
    makers picked from the list (a weight beside their code), then any typed by code."""
    picked = []
    for maker in listed:
        try:
            weight = integer(request.form.get(f"maker-{maker.id}") or "", "", required=False)
        except FieldError as exc:
            raise FieldError(
                f"maker-{maker.id}",
                _("Weight of %(code)s: %(problem)s", code=maker.code, problem=exc.message),
            ) from None
        if weight is not None:
            picked.append((maker.code, weight))
    return BatchDraft(
        code=form.code.data.strip(),
        workshop_slug=workshop_slugs.get(form.workshop.data, ""),
        sku=form.sku.data.strip(),
        quantity=form.quantity.data,
        produced_month=any_month(form.produced_month.data, "produced_month"),
        materials=(form.materials.data or "").strip(),
        makers=tuple(picked + parse_makers(form.makers.data or "", "makers")),
    )
