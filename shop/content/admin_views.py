"""Admin: the content pages' titles and text, under /admin/pages (the /admin/ blueprint's
role check applies). Every saved edit is in the audit log; public pages show it at once
(the pages table is one the storefront version watches)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from shop.admin.blueprint import bp
from shop.content import pages
from shop.content.markup import render
from shop.unit_of_work import abandon


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class PageForm(FlaskForm):
    title = StringField(
        _l("Title"),
        filters=[_strip],
        validators=[DataRequired(pages.TITLE_MISSING),
                    Length(max=pages.TITLE_MAX, message=pages.TITLE_TOO_LONG)],
    )  # fmt: skip
    body = TextAreaField(
        _l("Text"),
        filters=[pages.clean_body],
        validators=[Length(max=pages.BODY_MAX, message=pages.BODY_TOO_LONG)],
    )  # fmt: skip


@bp.get("/pages")
def content_pages():
    return render_template("admin/pages.html", rows=pages.all_pages(), slots=pages.SLOTS)


def _edit_page(found, form: PageForm, status: int = 200, preview=None):
    return render_template(
        "admin/page_edit.html", page=found, slot=pages.SLOTS[found.slug], form=form,
        preview=preview,
    ), status  # fmt: skip


@bp.route("/pages/<slug>", methods=["GET", "POST"])
def edit_page(slug: str):
    found = pages.page_by_slug(slug) or abort(404)
    if request.method == "GET":
        return _edit_page(found, PageForm(obj=found))
    form = PageForm()
    valid = form.validate_on_submit()
    if "preview" in request.form:  # shows the text as the page will, saves nothing
        return _edit_page(found, form, preview=render(form.body.data or ""))
    if not valid:
        return _edit_page(found, form, 400)
    try:
        changed = pages.update_page(found, form.title.data, form.body.data)
    except pages.PageError as exc:  # the form's checks are the same: only as a safeguard
        abandon()
        form[exc.field].errors = [*form[exc.field].errors, str(exc)]
        return _edit_page(pages.page_by_slug(slug), form, 400)
    flash(_("Page saved: the store shows it now.") if changed else _("Nothing changed."), "success")
    return redirect(url_for("admin.edit_page", slug=slug))
