"""The checkout form, made for the buyer's country: the address fields it asks for, in
its order, required or marked optional, with its names (state, prefecture, ZIP code…);
see shop.orders.addresses. The messages say what to do ("Enter a ZIP code, like 95014"),
each beside its field and in the error summary at the top of the page."""

from __future__ import annotations

from flask import current_app, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import AnyOf, Email, InputRequired, Length, Optional

from shop.i18n import locale_code
from shop.money import money_text
from shop.orders import addresses
from shop.orders.checkout import ShippingMethod
from shop.plain_text import OneLine


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _length(label: str, most: int) -> Length:
    return Length(
        max=most,
        message=_("%(field)s must be %(num)d characters or fewer", field=label, num=most),
    )


def country_for(prefill: dict[str, str]) -> str:
    """The country whose fields the form shows: the one sent (once the buyer chose it), or
    the customer's last one, or the store's own."""
    sent = (request.form.get("country") or "").strip().upper() if request.method == "POST" else ""
    locale = current_app.config["STORE_LOCALE"]
    for code in (sent, prefill.get("country", ""), addresses.default_country(locale)):
        if addresses.known(code):
            return code
    return ""


def prefill() -> dict[str, str]:
    """A signed-in customer's email and the address of their latest order; nothing for a guest."""
    if not current_user.is_authenticated:
        return {}
    return {"email": current_user.email, **addresses.last_address(current_user.id)}


def build(country: str, methods: list[ShippingMethod], data: dict[str, str]) -> FlaskForm:
    """The form for `country`. Its fields are made in the order the page shows them, which
    is the order the error summary lists their problems in."""
    codes = addresses.countries(locale_code())  # named in the page's language
    email, country_label, full_name = _("Email"), _("Country"), _("Full name")
    fields = {
        "email": StringField(email, [
            InputRequired(_("Enter your email address")),
            Email(_("Enter an email address in the right format, like name@example.com")),
            _length(email, 254), OneLine(email),
        ]),
        "country": SelectField(
            country_label, choices=_choices([("", _("Choose a country")), *codes]),
            validate_choice=False,
            validators=[InputRequired(_("Choose a country")),
                        AnyOf([code for code, _name in codes], _("Choose a country from the list"))],
        ),
        "name": StringField(
            full_name,
            [InputRequired(_("Enter your full name")), _length(full_name, 200), OneLine(full_name)],
        ),
    }  # fmt: skip
    specs = addresses.form_fields(country)
    for spec in specs:
        checks = [InputRequired(spec.missing) if spec.required else Optional(),
                  _length(spec.label, spec.max_length), OneLine(spec.label)]  # fmt: skip
        if spec.choices:
            choices = _choices([("", spec.choose), *spec.choices])
            fields[spec.name] = SelectField(
                spec.label, checks, choices=choices, validate_choice=False
            )
        else:
            fields[spec.name] = StringField(spec.label, checks)
    currency = current_app.config["STORE_CURRENCY"]
    fields["shipping_method"] = RadioField(
        _("Shipping"), validate_choice=False,
        choices=_choices((m.code, _("%(method)s: %(price)s", method=m.label,
                                    price=money_text(m.price, currency))) for m in methods),
        validators=[InputRequired(_("Choose a shipping method")),
                    AnyOf([m.code for m in methods], _("Choose a shipping method"))],
    )  # fmt: skip
    form_class = type("CheckoutForm", (FlaskForm,), fields)
    defaults = {"country": country, "shipping_method": methods[0].code if methods else None}
    form = form_class(data={**defaults, **data})
    form.address_specs, form.drawn_for = specs, country
    form.drawn_for_name = dict(codes).get(country, country)
    return form


def redraw(form: FlaskForm) -> bool:
    """Whether a POST asks for the form again rather than the order: the buyer pressed
    "Update address fields", or changed the country after its fields were drawn (the
    page says for which country, in `fields_for`) and the fields on screen are not its."""
    if request.form.get("update_fields"):
        return True
    drawn = request.form.get("fields_for")
    return bool(drawn) and drawn != form.drawn_for


def checked_address(form: FlaskForm, country: str) -> dict[str, str] | None:
    """The address fields to store, or None: each problem the country's rules find is put
    on its field (unless the field already has one, such as 'Enter a city')."""
    if form.country.data != country:  # no country chosen, or one we do not ship to
        return None
    typed = {spec.name: (form[spec.name].data or "").strip() for spec in form.address_specs}
    stored, problems = addresses.check(country, typed)
    for name, message in problems.items():
        field = form._fields.get(name, form.country)
        if not field.errors:
            field.errors = [*field.errors, message]
    return None if problems else stored
