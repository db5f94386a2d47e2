"""Admin: stock (search, adjustments, movements, CSV) and recording production batches."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from shop.admin.blueprint import PER_PAGE, bp
from shop.audit.services import record
from shop.catalog.models import Product, StockMovement, Variant
from shop.catalog.services import adjust_stock
from shop.csv_import import FieldError
from shop.database import contains_text
from shop.extensions import db
from shop.provenance.importers import parse_makers
from shop.provenance.models import Batch, Trainee, Workshop
from shop.provenance.services import ProvenanceError, record_batch
from shop.timeutil import today
from shop.web import csv_response, int_arg, major, page_number


@bp.get("/stock")
def stock():
    page = page_number()
    query = select(
        Variant.id, Variant.sku, Variant.options, Variant.stock, Product.name, Product.status
    ).join(Variant.product)
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
    variant_id = int_arg("variant")
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
