"""Admin: products, variants, categories and images. Routes join the /admin/ blueprint
and share its role check. Each view parses its form, calls one service of
shop.catalog.admin_services (which checks the rules and writes), commits and renders."""

from __future__ import annotations

from decimal import Decimal

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from shop.admin import product_list
from shop.admin.blueprint import PER_PAGE, bp
from shop.admin.catalog_forms import (
    AltTextForm,
    CategoryForm,
    ImageDeleteForm,
    ImageForm,
    MoveForm,
    ProductForm,
    VariantForm,
    VariantPriceForm,
)
from shop.catalog import admin_services as catalog
from shop.catalog import images
from shop.catalog.admin_services import CatalogError, ProductValues
from shop.catalog.images import MAX_IMAGE_BYTES
from shop.catalog.models import Product, ProductImage, ProductStatus, Variant
from shop.confirmations import (
    ConfirmationRefused,
    confirm_page,
    confirmation_token,
    refused_page,
    use_confirmation,
)
from shop.extensions import db
from shop.form_problems import add_problem, sentence
from shop.list_args import ListArgs
from shop.media import MediaUnavailable
from shop.money import as_sentence
from shop.unit_of_work import abandon
from shop.web import page_number


def _choices(form: ProductForm) -> None:
    categories, workshops = catalog.choices()
    form.category_id.choices = [SelectChoice(0, _("No category"))] + [
        SelectChoice(c.id, c.name) for c in categories
    ]
    form.workshop_id.choices = [SelectChoice(w.id, w.name) for w in workshops]


def _values(form: ProductForm) -> ProductValues:
    return ProductValues(
        name=form.name.data.strip(), slug=(form.slug.data or "").strip(),
        description=form.description.data or "", story=form.story.data or "",
        category_id=form.category_id.data or None, workshop_id=form.workshop_id.data,
        status=ProductStatus(form.status.data), impact_share_bps=form.impact_share.bps,
    )  # fmt: skip


def _mid_sentence(message: str) -> str:
    """'Price is not an amount.' -> 'price is not an amount', to follow 'Nothing was saved:';
    a leading acronym ('GTIN 123 …') keeps its capitals."""
    message = message.rstrip(".")
    first = message.split(" ", 1)[0]
    return message if len(first) > 1 and first.isupper() else message[:1].lower() + message[1:]


def _refused(exc: CatalogError, form: FlaskForm, field: str | None = None) -> None:
    """Roll back and say why, once: beside its field when the rule names one of `form`'s
    (or `field` is given), else in the error summary above the form."""
    abandon()
    name = field or exc.field
    if name in form._fields:
        add_problem(form, sentence(exc), name)
    else:
        add_problem(form, _("Nothing was saved: %(reason)s.", reason=exc))


@bp.get("/products")
def products():
    args = ListArgs(request.args)
    filters, page = product_list.read_filters(args), page_number()
    rows, total = ([], 0) if args.problems else product_list.product_page(filters, page, PER_PAGE)
    return render_template(
        "admin/products.html", rows=rows, total=total, page=page, args=args, kept=args.kept,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), statuses=product_list.STATUSES,
        sorts=product_list.SORT_LABELS,
    ), 400 if args.problems else 200  # fmt: skip


def _product_or_404(product_id: int) -> Product:
    return catalog.product_for_edit(product_id) or abort(404)


def _edit_form(product: Product) -> ProductForm:
    form = ProductForm(
        formdata=None, obj=product, impact_share=str(Decimal(product.impact_share_bps) / 100)
    )
    form.category_id.data = product.category_id or 0
    _choices(form)
    return form


def _product_page(product: Product | None, form: ProductForm, status: int = 200, **forms):
    """The product editor; `row` is a variant's form sent back refused (its typed values
    and errors shown on its own row)."""
    return render_template(
        "admin/product.html", product=product, form=form,
        variant_form=forms.get("variant_form") or VariantForm(), image_form=forms.get("image_form") or ImageForm(),
        alt_form=forms.get("alt_form"), alt_image=forms.get("alt_image"),
        row=forms.get("row"),
    ), status  # fmt: skip


@bp.route("/products/new", methods=["GET", "POST"])
def new_product():
    form = ProductForm(status="draft", impact_share="10")
    _choices(form)
    if not form.validate_on_submit():
        return _product_page(None, form, 400 if request.method == "POST" else 200)
    try:
        product_id = catalog.create_product(_values(form)).id
    except CatalogError as exc:
        _refused(exc, form)
        return _product_page(None, form, 400)
    flash(_("Product created. Add its variants, then publish it."), "success")
    return redirect(url_for("admin.product", product_id=product_id))


@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
def product(product_id: int):
    found = _product_or_404(product_id)
    if request.method == "GET":
        return _product_page(found, _edit_form(found))
    form = ProductForm()
    _choices(form)
    if not form.validate_on_submit():
        return _product_page(found, form, 400)
    try:
        catalog.update_product(found, _values(form))
    except CatalogError as exc:
        _refused(exc, form)
        return _product_page(_product_or_404(product_id), form, 400)
    flash(_("Product saved."), "success")
    return redirect(url_for("admin.product", product_id=product_id))


@bp.post("/products/<int:product_id>/variants")
def add_variant(product_id: int):
    found = _product_or_404(product_id)
    form = VariantForm()
    if not form.validate_on_submit():
        return _product_page(found, _edit_form(found), 400, variant_form=form)
    try:
        catalog.add_variant(found, sku=form.sku.data.strip(), options=form.options.options,
                            price=form.price.cents, currency=current_app.config["STORE_CURRENCY"],
                            gtin=form.gtin.data or "")  # fmt: skip
    except CatalogError as exc:
        _refused(exc, form)
        found = _product_or_404(product_id)
        return _product_page(found, _edit_form(found), 400, variant_form=form)
    flash(_("Variant added. Its stock comes from recording a production batch."), "success")
    return redirect(url_for("admin.product", product_id=product_id))


@bp.post("/variants/<int:variant_id>/price")
def variant_price(variant_id: int):
    """A variant's row of the product editor: options, price and GTIN. Refused, the page
    comes back with what was typed on that row and the problem beside its field."""
    variant = db.session.get(Variant, variant_id) or abort(404)
    product_id = variant.product_id
    form = VariantPriceForm()
    try:
        if not form.validate_on_submit():
            errors = [(field.name, e) for field in form for e in field.errors]
            name, message = errors[0] if errors else ("price", "enter a price like 12.50")
            raise CatalogError(_mid_sentence(message), name)
        catalog.change_variant(variant, options=form.options.options, price=form.price.cents,
                               gtin=form.gtin.data or "")  # fmt: skip
    except CatalogError as exc:
        abandon()
        found = _product_or_404(product_id)
        row = {"id": variant_id, "field": exc.field, "message": as_sentence(exc),
               "typed": {name: (request.form.get(name) or "")[:300] for name in ("options", "price", "gtin")}}  # fmt: skip
        return _product_page(found, _edit_form(found), 400, row=row)
    flash(_("Variant saved. Orders already placed keep the price they were placed at."), "success")
    return redirect(url_for("admin.product", product_id=product_id))


@bp.post("/products/<int:product_id>/images")
def upload_image(product_id: int):
    """A refused upload answers with the product page, the problem beside its field and
    the alt text as typed (a browser never fills a file field in again)."""
    found = _product_or_404(product_id)
    form = ImageForm()
    if not form.validate_on_submit():
        return _product_page(found, _edit_form(found), 400, image_form=form)
    try:
        images.add_image(
            found, form.image.data.read(MAX_IMAGE_BYTES + 1), form.alt_text.data.strip()
        )
    except CatalogError as exc:
        abandon()
        again = _product_or_404(product_id)
        if isinstance(exc.__cause__, MediaUnavailable):  # the store is down: say when to retry
            add_problem(form, _("Nothing was uploaded: %(reason)s.", reason=exc))
            page, status = _product_page(again, _edit_form(again), 503, image_form=form)
            return page, status, {"Retry-After": str(exc.__cause__.retry_after)}
        add_problem(form, sentence(exc), "image")
        return _product_page(again, _edit_form(again), 400, image_form=form)
    flash(_("Image added."), "success")
    return redirect(url_for("admin.product", product_id=product_id))


def _image_or_404(image_id: int) -> ProductImage:
    image = db.session.scalars(
        select(ProductImage).where(ProductImage.id == image_id)
        .options(joinedload(ProductImage.product))
    ).one_or_none()  # fmt: skip
    return image or abort(404)


@bp.post("/images/<int:image_id>/alt")
def image_alt_text(image_id: int):
    image = _image_or_404(image_id)
    product_id, form = image.product_id, AltTextForm()
    if not form.validate_on_submit():  # the product page, the error beside this image's field
        form.alt_text.id = f"alt-{image_id}"  # what the summary links to
        found = _product_or_404(product_id)
        return _product_page(found, _edit_form(found), 400, alt_form=form, alt_image=image_id)
    images.describe_image(image, form.alt_text.data.strip())
    flash(_("Alt text saved."), "success")
    return redirect(url_for("admin.product", product_id=product_id, _anchor=f"image-{image_id}"))


@bp.post("/images/<int:image_id>/move")
def move_image(image_id: int):
    image = _image_or_404(image_id)
    product_id, form = image.product_id, MoveForm()
    if not form.validate_on_submit():
        abort(400)
    images.move_image(image, form.direction.data)
    return redirect(url_for("admin.product", product_id=product_id, _anchor=f"image-{image_id}"))


@bp.get("/images/<int:image_id>/delete")
def confirm_delete_image(image_id: int):
    image = _image_or_404(image_id)
    back = url_for("admin.product", product_id=image.product_id, _anchor="images")
    return confirm_page(
        area="admin", question=_("Remove this image from “%(product)s”?", product=image.product.name),
        yes=_("Yes, remove the image"), action_url=url_for("admin.delete_image", image_id=image_id),
        back_url=back, token=confirmation_token("image.remove", image_id, 0),
        facts=[(_("Alt text"), image.alt_text or _("(none)")),
               (_("Size"), _("%(width)s × %(height)s px", width=image.width, height=image.height))],
        notes=[_("Its files are deleted from the media store: this cannot be undone. To show it "
                 "again, upload it again.")],
        figure=image,
    )  # fmt: skip


@bp.post("/images/<int:image_id>/delete")
def delete_image(image_id: int):
    if not ImageDeleteForm().validate_on_submit():
        abort(400)
    try:  # first: a second press finds the image gone, and is told it acted once
        use_confirmation("image.remove", image_id)
    except ConfirmationRefused as exc:
        product_id = db.session.scalar(
            select(ProductImage.product_id).where(ProductImage.id == image_id)
        )
        back = (
            url_for("admin.product", product_id=product_id)
            if product_id
            else url_for("admin.products")
        )
        return refused_page(exc, area="admin", back_url=back, back_label=_("Back to the product"))
    image = db.session.get(ProductImage, image_id) or abort(404)
    product_id = image.product_id
    images.remove_image(image)
    flash(_("Image removed."), "success")
    return redirect(url_for("admin.product", product_id=product_id, _anchor="images"))


@bp.get("/categories")
def categories():
    return render_template("admin/categories.html", rows=catalog.categories(), form=CategoryForm())


@bp.post("/categories")
def add_category():
    form = CategoryForm()
    if form.validate_on_submit():  # else each field shows its own error, once
        try:
            catalog.add_category(form.name.data.strip(), form.slug.data.strip())
        except CatalogError as exc:
            _refused(exc, form, "slug")
        else:
            flash(_("Category added."), "success")
            return redirect(url_for("admin.categories"))
    return render_template("admin/categories.html", rows=catalog.categories(), form=form), 400
