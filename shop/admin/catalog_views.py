"""Admin: products, variants, categories and images. Routes join the /admin/ blueprint
and share its role check. Uploaded images are checked, re-encoded with Pillow and
stored under a name the store chooses, never one the uploader sent."""

from __future__ import annotations

import secrets
from decimal import Decimal, InvalidOperation
from io import BytesIO
from pathlib import Path

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from PIL import Image, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, Regexp, ValidationError

from shop.admin.blueprint import PER_PAGE, bp
from shop.audit.services import record, snapshot
from shop.catalog.models import Category, Product, ProductImage, ProductStatus, Variant
from shop.csv_import import FieldError, key_values
from shop.extensions import db
from shop.money import MoneyError, parse_major
from shop.provenance.models import Workshop
from shop.web import page_number

PRODUCT_FIELDS = ["name", "slug", "description", "story", "category_id", "workshop_id", "status",
                  "impact_share_bps"]  # fmt: skip
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
LONGEST_SIDE = 1600
SLUG = Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", message="Lower-case letters, digits and dashes.")


class PercentField(StringField):
    """A share as a percentage ('10', '12.5'), kept as basis points in `.bps`."""

    bps: int | None = None

    def pre_validate(self, form):
        try:
            value = Decimal((self.data or "").strip())
        except InvalidOperation:
            raise ValidationError("Enter a percentage like 10 or 12.5.") from None
        bps = value * 100
        if not value.is_finite() or bps != bps.to_integral_value() or not 0 <= bps <= 10_000:
            raise ValidationError("Enter a percentage from 0 to 100, with at most two decimals.")
        self.bps = int(bps)


class ProductForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    slug = StringField("Address name (slug)", validators=[InputRequired(), Length(max=120), SLUG])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    story = TextAreaField("Story", validators=[Optional(), Length(max=10000)])
    category_id = SelectField("Category", coerce=int)
    workshop_id = SelectField("Made at", coerce=int, validators=[InputRequired()])
    status = SelectField(
        "Status", choices=[SelectChoice(s.value, s.value.capitalize()) for s in ProductStatus]
    )
    impact_share = PercentField("Share for training accounts (%)", validators=[InputRequired()])


class VariantForm(FlaskForm):
    sku = StringField("SKU", validators=[InputRequired(), Length(max=64),
                      Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", message="Letters, digits, dots, dashes.")])  # fmt: skip
    options = StringField("Options", validators=[Optional(), Length(max=300)])
    price = StringField("Price", validators=[InputRequired(), Length(max=20)])


class VariantPriceForm(FlaskForm):
    options = StringField("Options", validators=[Optional(), Length(max=300)])
    price = StringField("Price", validators=[InputRequired(), Length(max=20)])


class ImageForm(FlaskForm):
    image = FileField(
        "Image (JPEG, PNG or WebP, at most 5 MB)", validators=[FileRequired("Choose an image.")]
    )
    alt_text = StringField("Describe the image for people who cannot see it",
                           validators=[InputRequired(), Length(max=300)])  # fmt: skip


class ImageDeleteForm(FlaskForm):
    """Only the CSRF token."""


class CategoryForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=120)])
    slug = StringField("Address name (slug)", validators=[InputRequired(), Length(max=80), SLUG])


def _choices(form: ProductForm) -> None:
    form.category_id.choices = [SelectChoice(0, "No category")] + [
        SelectChoice(c.id, c.name) for c in db.session.execute(select(Category.id, Category.name).order_by(Category.name))
    ]  # fmt: skip
    form.workshop_id.choices = [
        SelectChoice(w.id, w.name) for w in db.session.execute(select(Workshop.id, Workshop.name).order_by(Workshop.name))
    ]  # fmt: skip


@bp.get("/products")
def products():
    page = page_number()
    total = db.session.scalar(select(func.count(Product.id)))
    rows = db.session.execute(
        select(Product.id, Product.name, Product.status, Workshop.name.label("workshop"),
               func.count(Variant.id).label("variants"), func.coalesce(func.sum(Variant.stock), 0).label("stock"))
        .join(Workshop, Workshop.id == Product.workshop_id)
        .outerjoin(Variant, Variant.product_id == Product.id)
        .group_by(Product.id, Product.name, Product.status, Workshop.name)
        .order_by(Product.name).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()  # fmt: skip
    return render_template(
        "admin/products.html",
        rows=rows,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
    )


def _product_or_404(product_id: int) -> Product:
    return db.one_or_404(
        select(Product)
        .where(Product.id == product_id)
        .options(selectinload(Product.variants), selectinload(Product.images))
    )


def _edit_form(product: Product) -> ProductForm:
    form = ProductForm(
        formdata=None, obj=product, impact_share=str(Decimal(product.impact_share_bps) / 100)
    )
    form.category_id.data = product.category_id or 0
    _choices(form)
    return form


def _product_page(product: Product | None, form: ProductForm, status: int = 200, **forms):
    return render_template(
        "admin/product.html", product=product, form=form,
        variant_form=forms.get("variant_form") or VariantForm(), image_form=forms.get("image_form") or ImageForm(),
    ), status  # fmt: skip


def _apply(form: ProductForm, product: Product) -> None:
    clash = db.session.scalar(select(Product.id).where(Product.slug == form.slug.data.strip()))
    if clash and clash != product.id:
        raise ValueError(f"another product already uses the address name {form.slug.data.strip()}")
    product.name, product.slug = form.name.data.strip(), form.slug.data.strip()
    product.description, product.story = form.description.data or "", form.story.data or ""
    product.category_id = form.category_id.data or None
    product.workshop_id = form.workshop_id.data
    product.status = ProductStatus(form.status.data)
    product.impact_share_bps = form.impact_share.bps
    if product.status == ProductStatus.ACTIVE and not product.variants:
        raise ValueError("add a variant with a price before publishing")


@bp.route("/products/new", methods=["GET", "POST"])
def new_product():
    form = ProductForm(status="draft", impact_share="10")
    _choices(form)
    if form.validate_on_submit():
        product = Product()
        try:
            _apply(form, product)
        except ValueError as exc:
            flash(f"Nothing was saved: {exc}.", "error")
            return _product_page(None, form, 400)
        db.session.add(product)
        db.session.flush()
        record("product.create", "product", product.id, summary=product.name,
               after=snapshot(product, PRODUCT_FIELDS))  # fmt: skip
        product_id = product.id
        db.session.commit()
        flash("Product created. Add its variants, then publish it.", "success")
        return redirect(url_for("admin.product", product_id=product_id))
    return _product_page(None, form, 400 if request.method == "POST" else 200)


@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
def product(product_id: int):
    found = _product_or_404(product_id)
    if request.method == "GET":
        return _product_page(found, _edit_form(found))
    form = ProductForm()
    _choices(form)
    if request.method == "POST":
        if not form.validate_on_submit():
            return _product_page(found, form, 400)
        before = snapshot(found, PRODUCT_FIELDS)
        try:
            _apply(form, found)
        except ValueError as exc:
            flash(f"Nothing was saved: {exc}.", "error")
            page = _product_page(found, form, 400)
            db.session.rollback()
            return page
        record("product.update", "product", found.id, summary=found.name, before=before,
               after=snapshot(found, PRODUCT_FIELDS))  # fmt: skip
        db.session.commit()
        flash("Product saved.", "success")
        return redirect(url_for("admin.product", product_id=product_id))
    return _product_page(found, form)


def _variant_values(form: VariantForm | VariantPriceForm) -> tuple[dict, int]:
    try:
        options = key_values(form.options.data or "", "options")
        price = parse_major(form.price.data, current_app.config["STORE_CURRENCY"])
    except (FieldError, MoneyError) as exc:
        raise ValueError(str(exc)) from None
    if price <= 0:
        raise ValueError("a price must be more than zero")
    return options, price


@bp.post("/products/<int:product_id>/variants")
def add_variant(product_id: int):
    found = _product_or_404(product_id)
    form = VariantForm()
    if not form.validate_on_submit():
        return _product_page(found, _edit_form(found), 400, variant_form=form)
    try:
        options, price = _variant_values(form)
        if db.session.scalar(select(Variant.id).where(Variant.sku == form.sku.data.strip())):
            raise ValueError(f"SKU {form.sku.data.strip()} is already used")
    except ValueError as exc:
        flash(f"Nothing was saved: {exc}.", "error")
        return _product_page(found, _edit_form(found), 400, variant_form=form)
    variant = Variant(product=found, sku=form.sku.data.strip(), options=options, price=price,
                      currency=current_app.config["STORE_CURRENCY"], stock=0, position=len(found.variants))  # fmt: skip
    db.session.add(variant)
    db.session.flush()
    record(
        "variant.create",
        "variant",
        variant.id,
        summary=variant.sku,
        after={"price": price, "options": options},
    )
    db.session.commit()
    flash("Variant added. Its stock comes from recording a production batch.", "success")
    return redirect(url_for("admin.product", product_id=product_id))


@bp.post("/variants/<int:variant_id>/price")
def variant_price(variant_id: int):
    variant = db.session.get(Variant, variant_id) or abort(404)
    product_id = variant.product_id
    form = VariantPriceForm()
    try:
        if not form.validate_on_submit():
            raise ValueError("enter a price like 12.50")
        options, price = _variant_values(form)
    except ValueError as exc:
        flash(f"Nothing was saved: {exc}.", "error")
        return redirect(url_for("admin.product", product_id=product_id))
    before = {"price": variant.price, "options": variant.options}
    variant.price, variant.options = price, options
    record("variant.price", "variant", variant.id, summary=variant.sku, before=before,
           after={"price": price, "options": options})  # fmt: skip
    db.session.commit()
    flash("Variant saved. Orders already placed keep the price they were placed at.", "success")
    return redirect(url_for("admin.product", product_id=product_id))


def reencode(data: bytes) -> tuple[bytes, str, int, int]:
    """Check an upload really is an image and re-encode it: nothing the uploader put in
    the file (metadata, trailing data, scripts) survives. Returns (bytes, ext, w, h)."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError("the image is larger than 5 MB")
    try:
        with Image.open(BytesIO(data)) as probe:
            if probe.format not in {"JPEG", "PNG", "WEBP"}:
                raise ValueError("only JPEG, PNG and WebP images are accepted")
            if probe.width * probe.height > MAX_IMAGE_PIXELS:
                raise ValueError("the image has too many pixels")
            probe.verify()
        with Image.open(BytesIO(data)) as image:
            image.load()
            image.thumbnail((LONGEST_SIDE, LONGEST_SIDE))
            has_alpha = image.mode in ("RGBA", "LA") or "transparency" in image.info
            clean = image.convert("RGBA" if has_alpha else "RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError("the file is not an image we can read") from exc
    out = BytesIO()
    if has_alpha:
        clean.save(out, "PNG", optimize=True)
        ext = "png"
    else:
        clean.save(out, "JPEG", quality=85, optimize=True)
        ext = "jpg"
    return out.getvalue(), ext, clean.width, clean.height


@bp.post("/products/<int:product_id>/images")
def upload_image(product_id: int):
    found = _product_or_404(product_id)
    form = ImageForm()
    if not form.validate_on_submit():
        flash(" ".join(e for field in form for e in field.errors) or "Choose an image.", "error")
        return redirect(url_for("admin.product", product_id=product_id))
    try:
        data, ext, width, height = reencode(form.image.data.read(MAX_IMAGE_BYTES + 1))
    except ValueError as exc:
        flash(f"Nothing was uploaded: {exc}.", "error")
        return redirect(url_for("admin.product", product_id=product_id))
    filename = (
        f"products/{found.slug}-{secrets.token_hex(6)}.{ext}"  # chosen here, never by the uploader
    )
    path = Path(current_app.config["MEDIA_ROOT"]) / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    image = ProductImage(product=found, filename=filename, alt_text=form.alt_text.data.strip(),
                         width=width, height=height, position=len(found.images))  # fmt: skip
    db.session.add(image)
    db.session.flush()
    record("image.upload", "product", found.id, summary=filename)
    path.write_bytes(
        data
    )  # written before the commit: a failed commit leaves an orphan file, never a broken row
    db.session.commit()
    flash("Image added.", "success")
    return redirect(url_for("admin.product", product_id=product_id))


@bp.post("/images/<int:image_id>/delete")
def delete_image(image_id: int):
    image = db.session.get(ProductImage, image_id) or abort(404)
    if not ImageDeleteForm().validate_on_submit():
        abort(400)
    product_id, filename = image.product_id, image.filename
    db.session.delete(image)
    record("image.delete", "product", product_id, summary=filename)
    db.session.commit()
    # The file goes only once the row is gone for good; a failed commit keeps both.
    (Path(current_app.config["MEDIA_ROOT"]) / filename).unlink(missing_ok=True)
    flash("Image removed.", "success")
    return redirect(url_for("admin.product", product_id=product_id))


@bp.get("/categories")
def categories():
    rows = db.session.scalars(select(Category).order_by(Category.position, Category.name)).all()
    return render_template("admin/categories.html", rows=rows, form=CategoryForm())


@bp.post("/categories")
def add_category():
    form = CategoryForm()
    if form.validate_on_submit():
        slug = form.slug.data.strip()
        if db.session.scalar(select(Category.id).where(Category.slug == slug)):
            flash(f"Nothing was saved: the address name {slug} is already used.", "error")
        else:
            category = Category(name=form.name.data.strip(), slug=slug)
            db.session.add(category)
            db.session.flush()
            record("category.create", "category", category.id, summary=category.name)
            db.session.commit()
            flash("Category added.", "success")
            return redirect(url_for("admin.categories"))
    else:
        flash(" ".join(e for field in form for e in field.errors), "error")
    rows = db.session.scalars(select(Category).order_by(Category.position, Category.name)).all()
    return render_template("admin/categories.html", rows=rows, form=form), 400
