"""Back-office catalog changes: products, variants and categories (images: images.py).

Every function takes plain values (already parsed by the form that called it), checks
the catalog's rules, writes the change with its audit entry, flushes and never commits:
the request that calls it owns the transaction. A refused change raises CatalogError
before anything is written, so the caller only has to roll back and say why.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.audit.services import record, snapshot
from shop.catalog.models import (
    OPTIONS_LABEL_MAX,
    Category,
    Product,
    ProductStatus,
    Variant,
    options_label,
)
from shop.extensions import db
from shop.look_alikes import as_read
from shop.provenance.models import Batch, Workshop

SLUG_MAX = 120  # products.slug's length
PRODUCT_FIELDS = ["name", "slug", "description", "story", "category_id", "workshop_id", "status",
                  "impact_share_bps"]  # fmt: skip


class CatalogError(ValueError):
    """A catalog change that would break a rule; nothing was changed. `field` names the
    form field at fault, when one is."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ProductValues:
    name: str
    slug: str  # empty: made from the name
    description: str
    story: str
    category_id: int | None
    workshop_id: int
    status: ProductStatus
    impact_share_bps: int


# --- Products --------------------------------------------------------------------------


def choices() -> tuple[list, list]:
    """(id, name) of every category and every workshop, by name, for the product form."""
    categories = db.session.execute(select(Category.id, Category.name).order_by(Category.name))
    workshops = db.session.execute(select(Workshop.id, Workshop.name).order_by(Workshop.name))
    return categories.all(), workshops.all()


def workshop_variants(workshop_id: int) -> list:
    """(sku, product name, options) of every variant of the workshop's products, by
    product and position: what a batch of that workshop can be of."""
    return db.session.execute(
        select(Variant.sku, Product.name, Variant.options)
        .join(Product, Product.id == Variant.product_id)
        .where(Product.workshop_id == workshop_id)
        .order_by(Product.name, Variant.position, Variant.sku)
    ).all()


def product_for_edit(product_id: int) -> Product | None:
    return db.session.scalars(
        select(Product)
        .where(Product.id == product_id)
        .options(selectinload(Product.variants), selectinload(Product.images))
    ).one_or_none()


def workshop_move_problem(product: Product, workshop_id: int) -> str | None:
    """Why `product` may not now be said to be made at `workshop_id`, or None.

    A product's batches name the workshop that made their units, and buyers read both on
    the product and batch pages; once a batch exists, moving the product would make the
    two pages name different workshops. A product made elsewhere is a new product."""
    if product.id is None or product.workshop_id == workshop_id:
        return None
    has_batches = db.session.scalar(
        select(Batch.id).join(Variant, Variant.id == Batch.variant_id)
        .where(Variant.product_id == product.id).limit(1)
    )  # fmt: skip
    if has_batches:
        return (
            "its batches were made at the workshop it names now, so it cannot move to another "
            "workshop; add a new product for what that workshop makes"
        )
    return None


def slug_from(name: str) -> str:
    """An address name made from a product's name: 'Block-Print T-Shirt (Indigo)' gives
    'block-print-t-shirt-indigo'; accents dropped, at most 120 characters; empty for a
    name with no Latin letters or digits."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:SLUG_MAX].rstrip("-")


def free_slug(slug: str) -> str:
    """The first of `slug-2`, `slug-3`, … no product uses: a suggestion, not a promise."""
    stem = slug[: SLUG_MAX - 4].rstrip("-")
    taken = set(db.session.scalars(select(Product.slug).where(Product.slug.like(f"{stem}-%"))))
    return next(f"{stem}-{n}" for n in range(2, len(taken) + 3) if f"{stem}-{n}" not in taken)


def _apply(product: Product, values: ProductValues) -> None:
    slug = values.slug or slug_from(values.name)
    if not slug:
        raise CatalogError(
            _("the name has no letters an address can use: enter an address name, like "
              "%(example)s", example="silk-scarf"), field="slug",
        )  # fmt: skip
    clash = db.session.scalar(select(Product.id).where(Product.slug == slug))
    if clash and clash != product.id:
        raise CatalogError(
            _("another product already uses the address name %(slug)s: choose another, "
              "like %(free)s", slug=slug, free=free_slug(slug)), field="slug",
        )  # fmt: skip
    if db.session.get(Workshop, values.workshop_id) is None:
        raise CatalogError(_("choose the workshop that makes it"), field="workshop_id")
    if values.category_id is not None and db.session.get(Category, values.category_id) is None:
        raise CatalogError(_("choose one of the categories"), field="category_id")
    problem = workshop_move_problem(product, values.workshop_id)
    if problem:
        raise CatalogError(problem, field="workshop_id")
    if values.status == ProductStatus.ACTIVE and not product.variants:
        raise CatalogError(_("add a variant with a price before publishing"), field="status")
    product.name, product.slug = values.name, slug
    product.description, product.story = values.description, values.story
    product.category_id = values.category_id
    product.workshop_id = values.workshop_id
    product.status = values.status
    product.impact_share_bps = values.impact_share_bps


def record_product_change(product: Product, before: dict | None) -> None:
    """Audit a product written by the form or the import (`before` None: it is new)."""
    after = snapshot(product, PRODUCT_FIELDS)
    if before != after:
        record("product.create" if before is None else "product.update", "product", product.id,
               summary=product.name, before=before, after=after)  # fmt: skip


def variant_audit_fields(variant: Variant) -> dict:
    return {"price": variant.price, "options": variant.options, "gtin": variant.gtin}


def record_variant_change(variant: Variant, before: dict | None) -> None:
    """Audit a variant written by the form or the import (`before` None: it is new)."""
    after = variant_audit_fields(variant)
    if before == after:
        return
    action = "variant.create" if before is None else "variant.price"
    if before is not None and {k: v for k, v in before.items() if k != "gtin"} == {
        k: v for k, v in after.items() if k != "gtin"
    }:
        action = "variant.gtin"  # only the GTIN changed
    record(action, "variant", variant.id, summary=variant.sku, before=before, after=after)


def create_product(values: ProductValues) -> Product:
    product = Product(variants=[], images=[])
    _apply(product, values)
    db.session.add(product)
    db.session.flush()
    record_product_change(product, None)
    return product


def update_product(product: Product, values: ProductValues) -> Product:
    before = snapshot(product, PRODUCT_FIELDS)
    _apply(product, values)
    db.session.flush()
    record_product_change(product, before)
    return product


# --- Variants --------------------------------------------------------------------------


def _check_price(price: int) -> None:
    if price <= 0:
        raise CatalogError(_("a price must be more than zero"), field="price")


def _option_text(text) -> str:
    """An option's name or value as a buyer reads it: width forms (fullwidth 'ｎ'), case,
    invisible format characters (zero-width joiner) and look-alike letters of another
    script (Cyrillic 'М' for 'M') folded as the alias rule folds them, spaces collapsed.
    Two variants that differ only in what nobody can see cannot be told apart."""
    return " ".join(as_read(text).split())


def _options_key(options: dict) -> tuple:
    return tuple(sorted((_option_text(k), _option_text(v)) for k, v in options.items()))


def variant_options_problem(options: dict, others: list[dict], sku: str = "") -> str | None:
    """Why a variant with `options` cannot sit beside variants with the `others` options of
    the same product, or None.

    A buyer picks a variant by its options only: two variants of one product with the same
    options, or one with none ("One size") beside one with some, cannot be told apart on
    the product page, in the cart or on the order. One variant alone needs no options."""

    def of_sku(problem: str) -> str:
        return _("%(sku)s: %(problem)s", sku=sku, problem=problem) if sku else problem

    if any(not _option_text(v) for v in options.values()):
        return of_sku(_("every option needs a value, like %(example)s", example="size=M"))
    if len(options_label(options)) > OPTIONS_LABEL_MAX:
        return of_sku(
            _("the options are too long: together they read at most %(most)s characters, "
              "like %(example)s", most=OPTIONS_LABEL_MAX, example="size: M, colour: red")
        )  # fmt: skip
    if not others:
        return None
    if not options or not all(others):
        return of_sku(
            _("a product with more than one variant needs options on each of them that "
              "tell them apart, like %(first)s or %(second)s", first="size=M", second="colour=red")
        )  # fmt: skip
    key = _options_key(options)
    if any(_options_key(other) == key for other in others):
        shown = "; ".join(f"{k}={v}" for k, v in options.items())
        return of_sku(
            _("another variant of this product already has the options %(options)s", options=shown)
        )
    return None


# --- GTINs ---------------------------------------------------------------------------

GTIN_LENGTHS = (8, 12, 13, 14)  # GTIN-8, GTIN-12 (UPC-A), GTIN-13 (EAN), GTIN-14
GTIN_TYPED_MAX = 40  # characters of a refused GTIN shown back in its message


def gtin_check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit of `digits` (a GTIN without its last digit): weights
    3 and 1 alternating from the rightmost digit, then what brings the sum to a ten."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def _gtin_digits(text: str) -> str:
    """A GTIN as typed, without the spaces and dashes barcodes print between its groups."""
    return "".join(text.split()).replace("-", "")


def gtin_problem(text: str) -> str | None:
    """Why `text` is not a GTIN, or None (also for a blank one: the GTIN is optional).

    The one rule for a variant's GTIN, asked by the back-office form, the catalog import
    and the /01/<gtin> addresses alike: 8, 12, 13 or 14 digits 0-9 (spaces and dashes
    between groups allowed) whose last digit is the GS1 check digit of the others."""
    digits = _gtin_digits(text or "")
    if not digits:
        return None
    shown = digits[:GTIN_TYPED_MAX]
    if not (digits.isascii() and digits.isdigit()):
        return _("GTIN %(gtin)s is not a number: a GTIN has only the digits 0-9", gtin=shown)
    if len(digits) not in GTIN_LENGTHS:
        return _(
            "GTIN %(gtin)s has %(count)s digits: a GTIN has 8, 12, 13 or 14 "
            "(as printed under its barcode)", gtin=shown, count=len(digits),
        )  # fmt: skip
    if not digits.strip("0"):
        return _("GTIN %(gtin)s is all zeros: no product has it", gtin=shown)
    expected = gtin_check_digit(digits[:-1])
    if int(digits[-1]) != expected:
        return _(
            "GTIN %(gtin)s has a wrong check digit: the last digit should be %(digit)s "
            "(check it against the barcode)", gtin=shown, digit=expected,
        )  # fmt: skip
    return None


def normalised_gtin(text: str) -> str | None:
    """A valid GTIN as it is kept and looked up: 14 digits, zero-padded on the left
    (4006381333931 gives 04006381333931); None for a blank one. Raises CatalogError
    (field "gtin") when gtin_problem has one."""
    problem = gtin_problem(text)
    if problem:
        raise CatalogError(problem, field="gtin")
    digits = _gtin_digits(text or "")
    return digits.zfill(14) if digits else None


def gtin_owner(gtin: str | None, variant_id: int | None = None) -> str | None:
    """The SKU of another variant that already has `gtin` (14 digits), or None."""
    if gtin is None:
        return None
    query = select(Variant.sku).where(Variant.gtin == gtin)
    if variant_id is not None:
        query = query.where(Variant.id != variant_id)
    return db.session.scalar(query.limit(1))


def gtin_taken(gtin: str, sku: str) -> str:
    return _(
        "GTIN %(gtin)s is already the GTIN of %(sku)s: one GTIN names one variant",
        gtin=gtin,
        sku=sku,
    )


def _check_gtin(gtin: str | None, variant_id: int | None = None) -> None:
    owner = gtin_owner(gtin, variant_id)
    if owner:
        raise CatalogError(gtin_taken(gtin, owner), field="gtin")


def _check_options(options: dict, others: list[dict]) -> None:
    problem = variant_options_problem(options, others)
    if problem:
        raise CatalogError(problem, field="options")


def add_variant(
    product: Product, *, sku: str, options: dict, price: int, currency: str, gtin: str = ""
) -> Variant:
    """A new variant; `gtin` as typed (blank: none), kept as 14 digits."""
    _check_price(price)
    _check_options(options, [v.options or {} for v in product.variants])
    if db.session.scalar(select(Variant.id).where(Variant.sku == sku)):
        raise CatalogError(_("SKU %(sku)s is already used", sku=sku), field="sku")
    kept_gtin = normalised_gtin(gtin)
    _check_gtin(kept_gtin)
    variant = Variant(product=product, sku=sku, options=options, price=price, currency=currency,
                      stock=0, position=len(product.variants), gtin=kept_gtin)  # fmt: skip
    db.session.add(variant)
    db.session.flush()
    record_variant_change(variant, None)
    return variant


def change_variant(variant: Variant, *, options: dict, price: int, gtin: str = "") -> Variant:
    """New options, price and GTIN (as typed; blank: none); orders already placed keep
    the price they were placed at."""
    _check_price(price)
    siblings = db.session.scalars(
        select(Variant.options).where(
            Variant.product_id == variant.product_id, Variant.id != variant.id
        )
    ).all()
    _check_options(options, [o or {} for o in siblings])
    kept_gtin = normalised_gtin(gtin)
    _check_gtin(kept_gtin, variant.id)
    before = variant_audit_fields(variant)
    variant.price, variant.options, variant.gtin = price, options, kept_gtin
    db.session.flush()
    record_variant_change(variant, before)
    return variant


# --- Categories ------------------------------------------------------------------------


def categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.position, Category.name)))


def add_category(name: str, slug: str) -> Category:
    if db.session.scalar(select(Category.id).where(Category.slug == slug)):
        raise CatalogError(_("the address name %(slug)s is already used", slug=slug), field="slug")
    category = Category(name=name, slug=slug)
    db.session.add(category)
    db.session.flush()
    record("category.create", "category", category.id, summary=category.name)
    return category
