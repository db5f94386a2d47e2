"""The store's error pattern for back-office forms, in one place: a page given a form with
errors gets "Error:" before its title and, first in its content, the error summary
(templates/_forms.html `error_summary`, focused as the page loads) linking to each field,
whatever the page and however many forms it shows. base.html asks `form_problems()`;
no back-office template draws its own summary.

Messages say which field and what to type (the store never shows WTForms' "This field is
required."): `required` and `at_most` word the common two.
"""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from jinja2 import pass_context
from jinja2.runtime import Context
from wtforms import Field, Form
from wtforms.validators import InputRequired, Length, StopValidation

# Fields with nothing to link to: the summary names their problem without a link.
_UNLINKED = ("HiddenField", "CSRFTokenField")


def required(message: str) -> InputRequired:
    """A field that must be filled in, and what to type in it ("Enter the product's name.")."""
    return InputRequired(message=message)


def at_most(most: int, what: str) -> Length:
    """At most `most` characters, said of `what` ("A name" -> "A name is at most 200
    characters."). Worded when a form is checked, in the reader's language: `what` may be a
    lazy string (`_l("A name")`), as form classes are made at import."""
    return Length(
        max=most,
        message=_l("%(what)s is at most %(most)s characters.", what=what, most=f"{most:,}"),
    )


def stop_if_blank(field: Field) -> None:
    """For a field that reads its text itself (an amount, a percentage): nothing typed, or
    only spaces, is said once, in the words of the field's `required`."""
    if not (field.data or "").strip():
        raise StopValidation(
            next((v.message for v in field.validators if isinstance(v, InputRequired)), "")
            or _("Fill this in.")
        )


def add_problem(form: Form, message: str, field: str | None = None) -> None:
    """Say why a change was refused, once: beside `field` when the form has it, else
    among the form's own errors (the error summary lists them). Never a flash as well."""
    if field and field in form._fields:
        form[field].errors = [*form[field].errors, message]
    else:
        form.form_errors.append(message)


def sentence(text: object) -> str:
    """A rule's message ('the address is too long') as a sentence: 'The address is too long.'"""
    text = str(text)
    return f"{text[:1].upper()}{text[1:]}{'' if text.endswith('.') else '.'}"


def problems_of(form: Form) -> list[str | tuple[str, str]]:
    """A form's errors as the error summary lists them: the form's own (text), then each
    field's in the form's order, as (text, link to the field)."""
    found: list[str | tuple[str, str]] = list(form.form_errors)
    for field in form:
        if not field.errors or isinstance(field.errors, dict):
            continue
        anchor = f"#{field.id}-0" if field.type == "RadioField" else f"#{field.id}"
        for message in field.errors:
            found.append(message if field.type in _UNLINKED else (message, anchor))
    return found


@pass_context
def form_problems(context: Context) -> list[str | tuple[str, str]]:
    """Every error of every form the page was given, in the order the view passed them,
    after the page's `problems` (text, or (text, link), for inputs that are no form's
    field)."""
    seen: set[int] = set()
    found: list[str | tuple[str, str]] = list(context.get("problems") or ())
    for value in context.get_all().values():
        if isinstance(value, Form) and id(value) not in seen and value.errors:
            seen.add(id(value))
            found += problems_of(value)
    return found


def init_app(app: Flask) -> None:
    app.add_template_global(form_problems)
