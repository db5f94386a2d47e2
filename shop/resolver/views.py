"""GS1 Digital Link addresses: /01/<gtin>/10/<batch code> answers as /p/<batch code> does
(the page, by a redirect, for a browser; the linkset for a machine that asks), when the
batch is of the variant with that GTIN; /01/<gtin> leads to the product's page. A GTIN
may come in any of its lengths (8, 12, 13 or 14 digits); anything else is a 404."""

from __future__ import annotations

from flask import Blueprint, abort, redirect

from shop.resolver import services
from shop.resolver.links import HTML, answer, negotiate, not_found
from shop.web import public_url

bp = Blueprint("resolver", __name__)


@bp.get("/01/<gtin>/10/<batch>")
def gs1(gtin: str, batch: str):
    found = services.batch_by_gtin(gtin, batch)
    if found is None:
        return abort(404) if negotiate() == HTML else not_found(batch)
    page = public_url("provenance.batch", code=found.code)
    # The linkset's anchor is the Digital Link itself, its GTIN written as 14 digits.
    anchor = public_url("resolver.gs1", gtin=services.gtin_from_path(gtin), batch=found.code)
    return answer(found.code, lambda: redirect(page, 307), found, anchor)


@bp.get("/01/<gtin>")
def gtin(gtin: str):
    slug = services.product_slug_by_gtin(gtin) or abort(404)
    return redirect(public_url("catalog.product", slug=slug), 307)
