"""Public provenance pages: workshops and batch records (with QR codes)."""

from __future__ import annotations

import io

import segno
from flask import Blueprint, Response, abort, current_app, render_template
from flask_babel import gettext as _

from shop.catalog import storefront as catalog
from shop.i18n import locale_code
from shop.page_cache.pages import public_page
from shop.provenance import services
from shop.resolver.links import answer
from shop.visibility import public_view
from shop.web import public_url

bp = Blueprint("provenance", __name__)


def _public(workshop):
    return services.public_workshop(
        workshop,
        current_app.config["VETTING_VISIT_INTERVAL_DAYS"],
        locale_code(),  # country names in the reader's language (the store's own in English)
    )


@bp.get("/workshops")
def workshops():
    return public_page("workshops", "", _workshops)


def _workshops() -> str:
    listed = [_public(w) for w in services.workshops_for_listing()]
    return render_template("provenance/workshops.html", workshops=listed)


@bp.get("/workshops/<slug>")
def workshop(slug: str):
    return public_page("workshop", slug, lambda: _workshop(slug))


def _workshop(slug: str) -> str:
    found = services.workshop_by_slug(slug)
    if found is None:
        abort(404)
    products = catalog.product_cards(catalog.product_cards_query(workshop_id=found.id), 48)
    return render_template(
        "provenance/workshop.html",
        workshop=_public(found),
        products=products,
        aliases=services.public_aliases(found.id),
    )


def batch_url(code: str) -> str:
    return public_url("provenance.batch", code=code)


@bp.get("/p/<code>")
def batch(code: str):
    """The QR code's address: the batch's page for a browser, its linkset for a machine
    that asks (shop.resolver.links)."""
    return answer(code, lambda: public_page("batch", code, lambda: _batch(code)))


def _batch(code: str) -> str:
    found = services.batch_for_page(code)
    if found is None:
        abort(404)
    product = found.variant.product
    return render_template(
        "provenance/batch.html",
        # A recall is public (the status list and the API say it): the tag's page says it too.
        batch=public_view(found, recalled=found.recalled_at is not None),
        product={"name": product.name, "slug": product.slug},
        variant_label=found.variant.options_label,
        workshop=_public(found.workshop),
        record_url=batch_url(found.code),
    )


@bp.get("/p/<code>/qr.svg")
def batch_qr(code: str):
    found = services.batch_for_page(code)
    if found is None:
        abort(404)
    qr = segno.make(batch_url(found.code), error="m")
    out = io.BytesIO()
    qr.save(
        out,
        kind="svg",
        scale=6,
        border=2,
        dark="#1f2a2e",
        xmldecl=False,
        title=_("Batch %(code)s", code=found.code),
    )
    # Its title is in the reader's language: caches keep one per language.
    headers = {"Cache-Control": "public, max-age=86400", "Vary": "Cookie, Accept-Language"}
    return Response(out.getvalue(), mimetype="image/svg+xml", headers=headers)
