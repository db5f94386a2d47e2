"""What the resolver looks up: one statement each, only public records (the rule of
shop.provenance.services.batch_is_public, which the batch page asks too)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from shop.catalog.admin_services import CatalogError, normalised_gtin
from shop.catalog.models import Product, ProductStatus, Variant
from shop.extensions import db
from shop.provenance.models import Batch, Workshop
from shop.provenance.services import batch_is_public


@dataclass(frozen=True)
class BatchLinks:
    """What a batch's links are made of: its code and its workshop's address name (both
    public); nothing else of the batch is read."""

    code: str
    workshop_slug: str


def _batch_links(*conditions) -> BatchLinks | None:
    row = db.session.execute(
        select(Batch.code, Workshop.slug)
        .join(Batch.variant)
        .join(Variant.product)
        .join(Batch.workshop)
        .where(batch_is_public(), *conditions)
    ).first()
    return BatchLinks(row.code, row.slug) if row else None


def public_batch(code: str) -> BatchLinks | None:
    """The batch with this code, when its record is public."""
    return _batch_links(Batch.code == code)


def gtin_from_path(text: str) -> str | None:
    """A GTIN from an address (/01/<gtin>), in any of its lengths, as kept (14 digits);
    None for anything that is not one."""
    try:
        return normalised_gtin(text)
    except CatalogError:
        return None


def batch_by_gtin(gtin: str, code: str) -> BatchLinks | None:
    """The batch `code` of the variant whose GTIN is `gtin` (as typed in the address)."""
    kept = gtin_from_path(gtin)
    if kept is None:
        return None
    return _batch_links(Variant.gtin == kept, Batch.code == code)


def product_slug_by_gtin(gtin: str) -> str | None:
    """The address name of the product whose variant has this GTIN, when it is shown."""
    kept = gtin_from_path(gtin)
    if kept is None:
        return None
    return db.session.scalar(
        select(Product.slug)
        .join(Variant, Variant.product_id == Product.id)
        .where(Variant.gtin == kept, Product.status != ProductStatus.DRAFT)
    )
