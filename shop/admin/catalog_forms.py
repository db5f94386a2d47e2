"""The admin's catalog forms (products, variants, images, categories): they read what was
typed, in the store's words when it cannot be read; the rules are
shop.catalog.admin_services'."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional, Regexp, ValidationError

from shop.catalog import admin_services as catalog
from shop.catalog.models import ProductStatus
from shop.csv_import import FieldError, key_values
from shop.form_problems import at_most, required, stop_if_blank
from shop.money import MoneyError, as_sentence, parse_major, parse_percent_bps

SLUG = Regexp(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
    message=_l(
        "An address name has only lower-case letters, digits and single dashes, like %(example)s.",
        example="silk-scarf",
    ),
)


class PercentField(StringField):
    """A share as a percentage ('10', '12.5'), kept as basis points in `.bps`."""

    bps: int | None = None

    def pre_validate(self, form):
        stop_if_blank(self)
        try:
            self.bps = parse_percent_bps(self.data)
        except MoneyError as exc:
            raise ValidationError(as_sentence(exc)) from None


class MoneyField(StringField):
    """A price in major units ('24.00'), kept as minor units in `.cents`."""

    cents: int | None = None

    def pre_validate(self, form):
        stop_if_blank(self)
        try:
            self.cents = parse_major(self.data, current_app.config["STORE_CURRENCY"])
        except MoneyError as exc:
            raise ValidationError(as_sentence(exc)) from None


class OptionsField(StringField):
    """Options like 'size=M;colour=natural', kept as a dict in `.options`."""

    options: dict | None = None

    def pre_validate(self, form):
        try:
            self.options = key_values(self.data or "", "options")
        except FieldError as exc:
            raise ValidationError(_("Options %(problem)s.", problem=exc.message)) from None


# What each product status is called (the stored status stays the code).
STATUS_LABELS = {"draft": _l("Draft"), "active": _l("Active"), "archived": _l("Archived")}

CHOOSE_WORKSHOP = _l("Choose the workshop that makes it.")


class ProductForm(FlaskForm):
    name = StringField(
        _l("Name"), validators=[required(_l("Enter the product's name.")), at_most(200, "A name")]
    )
    # Empty: made from the name (admin_services.slug_from), with no script needed.
    slug = StringField(_l("Address name (slug)"),
                       validators=[Optional(), at_most(120, "An address name"), SLUG])  # fmt: skip
    description = TextAreaField(_l("Description"),
                                validators=[Optional(), at_most(5000, "A description")],
                                render_kw={"rows": 6})  # fmt: skip
    story = TextAreaField(_l("Story"), validators=[Optional(), at_most(10000, "A story")],
                          render_kw={"rows": 10})  # fmt: skip
    category_id = SelectField(_l("Category"), coerce=int,
                              invalid_value_message=_l("Choose one of the categories, or No category."),
                              invalid_choice_message=_l("Choose one of the categories, or No category."))  # fmt: skip
    workshop_id = SelectField(_l("Made at"), coerce=int, validators=[required(CHOOSE_WORKSHOP)],
                              invalid_value_message=CHOOSE_WORKSHOP,
                              invalid_choice_message=CHOOSE_WORKSHOP)  # fmt: skip
    status = SelectField(
        _l("Status"), choices=[SelectChoice(s.value, STATUS_LABELS[s.value]) for s in ProductStatus],
        invalid_choice_message=_l("Choose the status: draft, active or archived."),
    )  # fmt: skip
    impact_share = PercentField(
        _l("Share for training accounts (%)"),
        validators=[required(_l("Enter the share for training accounts, like 10."))],
    )


SKU_FORMAT = Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
    message=_l(
        "A SKU has only letters, digits, dots, dashes and underscores, like %(example)s.",
        example="TOTE-BHB-NAT",
    ),
)


class GtinField(StringField):
    """A GTIN as typed ('4006381333931', '0 12345 67890 5'), checked by the one rule
    (admin_services.gtin_problem) so the error shows beside the field."""

    def pre_validate(self, form):
        problem = catalog.gtin_problem(self.data or "")
        if problem:
            raise ValidationError(f"{problem}.")


GTIN_LABEL = _l("GTIN (barcode number)")


class VariantForm(FlaskForm):
    sku = StringField(_l("SKU"), validators=[required(_l("Enter the SKU, like %(example)s.", example="TOTE-BHB-NAT")),
                                         at_most(64, "A SKU"), SKU_FORMAT])  # fmt: skip
    options = OptionsField(_l("Options"), validators=[Optional(), at_most(300, "The options")])
    price = MoneyField(
        _l("Price"),
        validators=[
            required(_l("Enter the price, like %(example)s.", example="24.00")),
            at_most(20, "A price"),
        ],
    )
    gtin = GtinField(GTIN_LABEL, validators=[Optional(), at_most(40, "A GTIN")])


class VariantPriceForm(FlaskForm):
    options = OptionsField(_l("Options"), validators=[Optional(), at_most(300, "The options")])
    price = MoneyField(
        _l("Price"),
        validators=[
            required(_l("Enter the price, like %(example)s.", example="24.00")),
            at_most(20, "A price"),
        ],
    )
    gtin = GtinField(GTIN_LABEL, validators=[Optional(), at_most(40, "A GTIN")])


ALT_REQUIRED = _l("Describe the image for people who cannot see it (its alt text).")
ALT_LABEL = _l("Alt text: what the image shows, for people who cannot see it")


def _alt_text_field() -> StringField:
    # Stripped first: alt text of spaces says nothing to a screen reader either.
    return StringField(ALT_LABEL, filters=[lambda text: (text or "").strip()],
                       validators=[DataRequired(ALT_REQUIRED), at_most(300, "Alt text")])  # fmt: skip


class ImageForm(FlaskForm):
    image = FileField(
        _l("Image (JPEG, PNG or WebP, at most 5 MB)"),
        validators=[FileRequired(_l("Choose an image."))],
    )
    alt_text = _alt_text_field()


class AltTextForm(FlaskForm):
    alt_text = _alt_text_field()


class MoveForm(FlaskForm):
    direction = SelectField(choices=[SelectChoice("up", _l("Up")), SelectChoice("down", _l("Down"))],
                            invalid_choice_message=_l("Move the image up or down."))  # fmt: skip


class ImageDeleteForm(FlaskForm):
    """Only the CSRF token (and the confirmation's)."""


class CategoryForm(FlaskForm):
    name = StringField(
        _l("Name"), validators=[required(_l("Enter the category's name.")), at_most(120, "A name")]
    )
    slug = StringField(_l("Address name (slug)"),
                       validators=[required(_l("Enter the address name, like %(example)s.", example="bags")),
                                   at_most(80, "An address name"), SLUG])  # fmt: skip
