"""CSV import of products and their variants (one row per variant)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop import csv_import as f
from shop.audit.services import snapshot
from shop.catalog.admin_services import (
    PRODUCT_FIELDS,
    CatalogError,
    gtin_taken,
    normalised_gtin,
    record_product_change,
    record_variant_change,
    variant_audit_fields,
    variant_options_problem,
    workshop_move_problem,
)
from shop.catalog.models import Category, Product, ProductStatus, Variant
from shop.csv_import import (
    FieldError,
    Importer,
    ImportResult,
    RowError,
    apply_changes,
    duplicate_errors,
    unknown_workshop_errors,
)
from shop.extensions import db
from shop.money import MoneyError, check_currency
from shop.provenance.services import workshops_by_slug

# Columns that describe the product, so every row of one product must agree.
PRODUCT_COLUMNS = (
    "product_name", "category", "description", "story",
    "impact_share_bps", "status", "workshop_slug",
)  # fmt: skip


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class CatalogImporter(Importer):
    name = "catalog"
    columns = (
        "product_slug", "product_name", "category", "description", "story",
        "impact_share_bps", "status", "workshop_slug", "sku", "options", "price", "currency",
    )  # fmt: skip
    # `gtin` came later: a file without it leaves every variant's GTIN as it is; with it,
    # a blank cell means the variant has none.
    optional_columns = ("gtin",)

    def __init__(self, store_currency: str):
        self.store_currency = store_currency

    def _currency(self, value: str, column: str) -> str:
        try:
            currency = check_currency(value)
        except MoneyError as exc:
            raise FieldError(column, str(exc)) from None
        if currency != self.store_currency:
            raise FieldError(column, f"is {currency}; the store sells in {self.store_currency}")
        return currency

    @staticmethod
    def _gtin(value: str, column: str) -> str | None:
        """The one GTIN rule (admin_services.gtin_problem); kept as 14 digits."""
        try:
            return normalised_gtin(value)
        except CatalogError as exc:
            raise FieldError(column, str(exc)) from None

    def parse(self, row: dict[str, str]) -> dict:
        values = f.collect(
            row,
            {
                "product_slug": f.slug,
                "product_name": f.text,
                "category": partial(f.text, required=False, max_length=120),
                "description": partial(f.text, required=False, max_length=5_000),
                "story": partial(f.text, required=False, max_length=10_000),
                "impact_share_bps": partial(f.integer, minimum=0, maximum=10_000, default=1000),
                "status": partial(
                    f.choice, choices=[s.value for s in ProductStatus], default="draft"
                ),
                "workshop_slug": f.slug,
                "sku": partial(f.code, max_length=64),
                "options": f.key_values,
                "currency": self._currency,
                # Every row must be in the store's currency, so parse in it.
                "price": partial(f.money, currency=self.store_currency),
                "gtin": self._gtin,
            },
        )
        values["gtin_given"] = "gtin" in row
        return values

    def check(self, rows):
        errors = duplicate_errors(rows, "sku", "SKU")
        first_row: dict[str, tuple[int, dict]] = {}
        for n, v in rows:
            if v["product_slug"] not in first_row:
                first_row[v["product_slug"]] = (n, v)
                continue
            first_n, first_v = first_row[v["product_slug"]]
            errors += [
                RowError(n, column, f"differs from row {first_n} for the same product")
                for column in PRODUCT_COLUMNS
                if v[column] != first_v[column]
            ]
        errors += unknown_workshop_errors(
            rows, workshops_by_slug({v["workshop_slug"] for _, v in rows})
        )
        errors += self._workshop_moves(rows)
        errors += self._options_clashes(rows)
        errors += self._gtin_clashes(rows)
        owners = dict(
            db.session.execute(
                select(Variant.sku, Product.slug)
                .join(Variant.product)
                .where(Variant.sku.in_({v["sku"] for _, v in rows}))
            ).all()
        )
        errors += [
            RowError(n, "sku", f"{v['sku']} belongs to product '{owners[v['sku']]}'")
            for n, v in rows
            if v["sku"] in owners and owners[v["sku"]] != v["product_slug"]
        ]
        return errors

    def _workshop_moves(self, rows) -> list[RowError]:
        """The one rule of workshop_move_problem, for products the file would move."""
        first = {}
        for n, v in rows:
            first.setdefault(v["product_slug"], (n, v))
        existing = db.session.scalars(select(Product).where(Product.slug.in_(first))).all()
        workshops = workshops_by_slug({v["workshop_slug"] for _, v in first.values()})
        errors = []
        for product in existing:
            n, v = first[product.slug]
            target = workshops.get(v["workshop_slug"])
            problem = target and workshop_move_problem(product, target.id)
            if problem:
                errors.append(RowError(n, "workshop_slug", f"product '{product.slug}': {problem}"))
        return errors

    def _options_clashes(self, rows) -> list[RowError]:
        """The one rule of variant_options_problem, over each product as the file leaves it:
        its variants the file does not name, then the file's rows in order."""
        slugs = {v["product_slug"] for _, v in rows}
        in_file = {v["sku"] for _, v in rows}
        kept: dict[str, list[dict]] = {slug: [] for slug in slugs}
        for slug, sku, options in db.session.execute(
            select(Product.slug, Variant.sku, Variant.options)
            .join(Variant.product)
            .where(Product.slug.in_(slugs))
        ):
            if sku not in in_file:
                kept[slug].append(options or {})
        errors = []
        for n, v in rows:
            others = kept[v["product_slug"]]
            problem = variant_options_problem(v["options"], others, v["sku"])
            if problem:
                errors.append(RowError(n, "options", problem))
            others.append(v["options"])
        return errors

    def _gtin_clashes(self, rows) -> list[RowError]:
        """One GTIN names one variant: not two rows of the file, nor a row and a variant
        the file does not name (a variant the file names may give its GTIN to another)."""
        given = [(n, v) for n, v in rows if v["gtin_given"] and v["gtin"]]
        if not given:
            return []
        errors = duplicate_errors(given, "gtin", "GTIN")
        in_file = {v["sku"] for _, v in rows}
        owners = dict(
            db.session.execute(
                select(Variant.gtin, Variant.sku).where(
                    Variant.gtin.in_({v["gtin"] for _, v in given}), Variant.sku.not_in(in_file)
                )
            ).all()
        )
        errors += [
            RowError(n, "gtin", gtin_taken(v["gtin"], owners[v["gtin"]]))
            for n, v in given
            if v["gtin"] in owners
        ]
        return errors

    def _categories(self, names: set[str]) -> dict[str, Category]:
        slugs = {slugify(n): n for n in names if n}
        found = {
            c.slug: c for c in db.session.scalars(select(Category).where(Category.slug.in_(slugs)))
        }
        for category_slug, name in slugs.items():
            if category_slug not in found:
                found[category_slug] = Category(slug=category_slug, name=name)
                db.session.add(found[category_slug])
        return {name: found[category_slug] for category_slug, name in slugs.items()}

    def write(self, rows, progress: Callable[[int], None]) -> ImportResult:
        result = ImportResult()
        workshops = workshops_by_slug({v["workshop_slug"] for _, v in rows})
        categories = self._categories({v["category"] for _, v in rows})
        products = {
            p.slug: p
            for p in db.session.scalars(
                select(Product)
                .where(Product.slug.in_({v["product_slug"] for _, v in rows}))
                .options(selectinload(Product.variants))
            )
        }
        variants = {v.sku: v for p in products.values() for v in p.variants}
        befores = {sku: variant_audit_fields(variant) for sku, variant in variants.items()}
        self._free_gtins(rows, variants)
        position: dict[str, int] = {}
        audited: dict[str, tuple[Product, dict | None]] = {}
        audited_variants: list[tuple[Variant, dict | None]] = []
        for _, v in rows:
            product_fields = {
                "name": v["product_name"],
                "category": categories.get(v["category"]),
                "description": v["description"],
                "story": v["story"],
                "impact_share_bps": v["impact_share_bps"],
                "status": ProductStatus(v["status"]),
                "workshop": workshops[v["workshop_slug"]],
            }
            product = products.get(v["product_slug"])
            product_changed = False
            if product is None:
                product = Product(slug=v["product_slug"], **product_fields)
                products[product.slug] = product
                db.session.add(product)
                audited.setdefault(product.slug, (product, None))
            elif product.slug not in position:  # the first row of a product sets it
                audited[product.slug] = (product, snapshot(product, PRODUCT_FIELDS))
                product_changed = apply_changes(product, product_fields)
            position[product.slug] = position.get(product.slug, -1) + 1
            variant_fields = {
                "options": v["options"],
                "price": v["price"],
                "currency": v["currency"],
                "position": position[product.slug],
            }
            if v["gtin_given"]:
                variant_fields["gtin"] = v["gtin"]
            variant = variants.get(v["sku"])
            if variant is None:
                variant = Variant(sku=v["sku"], **variant_fields)
                product.variants.append(variant)
                audited_variants.append((variant, None))
                result.created += 1
            else:
                audited_variants.append((variant, befores[variant.sku]))
                if apply_changes(variant, variant_fields) or product_changed:
                    result.updated += 1
                else:
                    result.unchanged += 1
            progress(1)
        db.session.flush()
        # The entries the admin forms write, once the new rows have their ids.
        for product, before in audited.values():
            record_product_change(product, before)
        for variant, before in audited_variants:
            record_variant_change(variant, before)
        return result

    @staticmethod
    def _free_gtins(rows, variants: dict[str, Variant]) -> None:
        """Take away first the GTINs the file changes, so two variants that swap theirs
        never hold the same one at once (the database refuses that, statement by
        statement)."""
        changing = [
            variants[v["sku"]]
            for _, v in rows
            if v["gtin_given"] and v["sku"] in variants and variants[v["sku"]].gtin != v["gtin"]
        ]
        for variant in changing:
            variant.gtin = None
        if changing:
            db.session.flush()
