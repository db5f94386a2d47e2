"""/verify: how a partner retailer (or anyone) checks a tag without taking the store's
word for it. The same for every visitor: served from the page cache like the catalog."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from shop.catalog.models import Product, Variant
from shop.extensions import db
from shop.identity.did import store_did
from shop.page_cache.pages import public_page
from shop.provenance.models import Batch
from shop.provenance.services import batch_is_public
from shop.resolver.links import CREDENTIAL_STATUS, GS1_PIP, UNTP_DFR, UNTP_DPP
from shop.web import site_url

bp = Blueprint("verification", __name__)


@bp.get("/verify")
def verify():
    return public_page("verify", "", _verify)


def _verify() -> str:
    home = site_url("catalog.home").rstrip("/")
    return render_template(
        "verification/verify.html",
        base=home,
        did=store_did(),
        example_code=_example_code(),
        relations={"dpp": UNTP_DPP, "pip": GS1_PIP, "dfr": UNTP_DFR, "status": CREDENTIAL_STATUS},
    )


def _example_code() -> str:
    """A real tag's batch code for the examples to run as printed (any public batch)."""
    code = db.session.scalar(
        select(Batch.code)
        .join(Variant, Batch.variant_id == Variant.id)
        .join(Product, Variant.product_id == Product.id)
        .where(batch_is_public())
        .order_by(Batch.id)
        .limit(1)
    )
    return code or "RS-2026-03"
