"""What the partner API answers: the public records of products, workshops and batches,
and the check of a batch, as plain values (the schemas in shop.api.schemas say which
fields leave the store; nothing else does).

The rules are the storefront's own, asked where they live: a product is listed only
while it is on sale (never a draft or an archived one), and a product of a suspended
workshop cannot be bought; a workshop is seen only through
shop.provenance.services.public_workshop (a withheld country takes its region with it;
vetting as the steps done and the month of the last visit); a batch has a public record
unless its product is a draft (shop.provenance.services.batch_is_public, as /p/<code>:
an archived product's tags still lead to their record). A batch names its product's
slug only while /products/<slug> finds it (`listed`): an archived product's is null.
Never a maker, a trainee code, an alias, an address, coordinates, a contact, a head
count, a stock count or a vetting note.

Each listing is one page of a keyset walk (shop.api.cursors) read in a fixed number of
statements whatever its length, with every relation it shows loaded up front and any
other refused (raiseload), so no row costs a statement of its own.
"""

from __future__ import annotations

from datetime import date

from flask import current_app
from sqlalchemy import Select, select
from sqlalchemy.orm import contains_eager, raiseload, selectinload

from shop.api.cursors import Slice, cut
from shop.api.links import batch_links, passport_url
from shop.api.passport_state import passport_state
from shop.catalog.models import Product, ProductStatus, Variant
from shop.catalog.services import with_lapsed_holds
from shop.extensions import db
from shop.money import apply_bps
from shop.provenance.models import Batch, Workshop
from shop.provenance.services import batch_for_page, batch_is_public, public_workshop
from shop.web import major, public_url

IN_STOCK, OUT_OF_STOCK = "in_stock", "out_of_stock"


def money(amount: int, currency: str) -> dict:
    """Integer minor units, the ISO 4217 code, and the same amount as a decimal string."""
    return {"amount": amount, "currency": currency, "decimal": major(amount, currency)}


def _month(value: date | None) -> str | None:
    return value.strftime("%Y-%m") if value else None


# --- products ---------------------------------------------------------------------------


LISTED = ProductStatus.ACTIVE  # the one status /products lists and /products/<slug> finds


def listed(product: Product) -> bool:
    return product.status == LISTED


def _products() -> Select:
    """Products on sale with their workshop, category and variants (and the units whose
    holds ran out, which buyers are shown as there): two statements."""
    return (
        select(Product)
        .join(Product.workshop)
        .outerjoin(Product.category)
        .where(Product.status == LISTED)
        .options(
            contains_eager(Product.workshop),
            contains_eager(Product.category),
            selectinload(Product.variants).options(with_lapsed_holds(), raiseload("*")),
            raiseload("*"),
        )
        .order_by(Product.slug)
    )


def _variant(variant: Variant, on_sale: bool, share_bps: int) -> dict:
    # Whether a buyer can take one now, never how many: a count is commercially
    # sensitive, and the storefront's "Only 3 left" is for buyers on the page.
    in_stock = on_sale and variant.buyable > 0
    return {
        "sku": variant.sku,
        "options": {str(k): str(v) for k, v in (variant.options or {}).items()},
        "price": money(variant.price, variant.currency),
        "training_share": money(apply_bps(variant.price, share_bps), variant.currency),
        "availability": IN_STOCK if in_stock else OUT_OF_STOCK,
    }


def product_record(product: Product) -> dict:
    # A suspended workshop's products stay listed, as on the storefront, but none of
    # them can be bought (shop.catalog.views: on_sale).
    on_sale = listed(product) and not product.workshop.is_suspended
    variants = [_variant(v, on_sale, product.impact_share_bps) for v in product.variants]
    category = product.category
    return {
        "slug": product.slug,
        "name": product.name,
        "description": product.description or "",
        "category": {"slug": category.slug, "name": category.name} if category else None,
        "workshop": {"slug": product.workshop.slug, "name": product.workshop.name},
        "impact_share_bps": product.impact_share_bps,
        "available": any(v["availability"] == IN_STOCK for v in variants),
        "variants": variants,
        "url": public_url("catalog.product", slug=product.slug),
    }


def products_slice(after: str | None, limit: int) -> Slice[dict]:
    return _keyset_slice(_products(), Product.slug, after, limit, product_record)


def product_by_slug(slug: str) -> dict | None:
    found = db.session.scalars(_products().where(Product.slug == slug)).one_or_none()
    return product_record(found) if found else None


def _keyset_slice(statement: Select, key, after: str | None, limit: int, record) -> Slice[dict]:
    """One page of a listing ordered by its unique `key` column: the rows after `after`,
    read with LIMIT limit + 1 to know whether another page follows, as records."""
    if after is not None:
        statement = statement.where(key > after)
    rows = list(db.session.scalars(statement.limit(limit + 1)))
    page = cut(rows, limit, lambda row: getattr(row, key.key))
    return Slice([record(row) for row in page.rows], page.next_after)


# --- workshops --------------------------------------------------------------------------


def _workshops() -> Select:
    """Workshops with their vetting history (for the summary only): two statements."""
    return (
        select(Workshop)
        .options(selectinload(Workshop.vetting_events).options(raiseload("*")), raiseload("*"))
        .order_by(Workshop.slug)
    )


def workshop_record(workshop: Workshop) -> dict:
    config = current_app.config
    public = public_workshop(
        workshop, config["VETTING_VISIT_INTERVAL_DAYS"], config["STORE_LOCALE"]
    )
    vetting = public.vetting
    return {
        "slug": public.slug,
        "name": public.name,
        "kind": public.kind.value,
        "country": (
            {"code": public.country_code, "name": public.country} if public.country_code else None
        ),
        "region": public.region or None,
        "location_withheld": public.country_withheld,
        "crafts": [str(c) for c in public.crafts or []],
        "story": public.story or "",
        "partner_since": _month(public.partner_since),
        "vetting": {
            "vetted": vetting.vetted,
            "suspended": vetting.suspended,
            "steps_done": [step.value for step in vetting.steps_done],
            "last_visit_month": _month(vetting.last_visit_month),
        },
        "url": public_url("provenance.workshop", slug=public.slug),
    }


def workshops_slice(after: str | None, limit: int) -> Slice[dict]:
    return _keyset_slice(_workshops(), Workshop.slug, after, limit, workshop_record)


def workshop_by_slug(slug: str) -> dict | None:
    found = db.session.scalars(_workshops().where(Workshop.slug == slug)).one_or_none()
    return workshop_record(found) if found else None


# --- batches ----------------------------------------------------------------------------


def _batches() -> Select:
    """Batches with a public record (their product is not a draft), with their variant,
    product and workshop: one statement."""
    return (
        select(Batch)
        .join(Batch.variant)
        .join(Variant.product)
        .join(Batch.workshop)
        .where(batch_is_public())
        .options(
            contains_eager(Batch.variant).options(
                contains_eager(Variant.product).options(raiseload("*")), raiseload("*")
            ),
            contains_eager(Batch.workshop).options(raiseload("*")),
            raiseload("*"),
        )
        .order_by(Batch.code)
    )


def batch_record(batch: Batch) -> dict:
    product, variant = batch.variant.product, batch.variant
    return {
        "code": batch.code,
        "produced_month": _month(batch.produced_month),
        "materials": batch.materials or "",
        "product": {"slug": product.slug if listed(product) else None, "name": product.name},
        "variant": {
            "sku": variant.sku,
            "options": {str(k): str(v) for k, v in (variant.options or {}).items()},
        },
        "workshop": {"slug": batch.workshop.slug, "name": batch.workshop.name},
        "links": batch_links(batch.code),
    }


def batches_slice(after: str | None, limit: int) -> Slice[dict]:
    return _keyset_slice(_batches(), Batch.code, after, limit, batch_record)


def batch_by_code(code: str) -> dict | None:
    found = db.session.scalars(_batches().where(Batch.code == code)).one_or_none()
    return batch_record(found) if found else None


# --- the check of a batch ---------------------------------------------------------------

REASONS = {
    "workshop_suspended": "The workshop that made this batch is suspended: its products are "
    "off sale while a concern is looked into.",
    "workshop_not_vetted": "The workshop that made this batch has not completed every vetting "
    "step (interview, initial site visit, standards check, agreement signed).",
    "batch_recalled": "The store has recalled this batch.",
    "passport_revoked": "This batch's passport has been revoked.",
    "passport_invalid": "This batch's passport does not verify against the store's published keys.",
    "passport_not_issued": "No passport has been issued for this batch yet.",
}


def batch_check(code: str) -> dict | None:
    """Is this batch made by a vetted workshop that is not suspended, and is its passport
    valid? None when the batch has no public record."""
    batch = batch_for_page(code)
    if batch is None:
        return None
    config = current_app.config
    workshop = public_workshop(
        batch.workshop, config["VETTING_VISIT_INTERVAL_DAYS"], config["STORE_LOCALE"]
    )
    vetting = workshop.vetting
    passport = passport_state(batch)
    reasons = []
    if vetting.suspended:
        reasons.append("workshop_suspended")
    elif not vetting.vetted:
        reasons.append("workshop_not_vetted")
    if batch.recalled_at is not None:
        reasons.append("batch_recalled")
    if passport["status"] != "valid":
        reasons.append(f"passport_{passport['status']}")
    return {
        "batch": batch.code,
        "workshop": {
            "slug": workshop.slug,
            "vetted": vetting.vetted,
            "suspended": vetting.suspended,
        },
        "made_by_vetted_workshop": vetting.vetted,
        "passport": {
            "url": passport_url(batch.code) if passport["status"] != "not_issued" else None,
            "status": passport["status"],
        },
        "verdict": "not_ok" if reasons else "ok",
        "reasons": [{"code": reason, "message": REASONS[reason]} for reason in reasons],
    }
