"""CSV imports for workshops, trainees and production batches."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop import csv_import as f
from shop.catalog.models import Variant
from shop.csv_import import (
    FieldError,
    Importer,
    ImportResult,
    RowError,
    RowFailed,
    duplicate_errors,
    unknown_workshop_errors,
    upsert,
)
from shop.extensions import db
from shop.provenance.models import Batch, Trainee, Workshop, WorkshopKind
from shop.provenance.services import record_batch, workshops_by_slug
from shop.provenance.trainees import TraineeDetails, save_trainee, trainee_problems


class WorkshopImporter(Importer):
    name = "workshops"
    columns = (
        "slug", "name", "kind", "country", "region", "crafts", "story",
        "partner_since", "address", "contact", "head_count",
    )  # fmt: skip

    def parse(self, row: dict[str, str]) -> dict:
        values = f.collect(
            row,
            {
                "slug": f.slug,
                "name": f.text,
                "kind": partial(f.choice, choices=[k.value for k in WorkshopKind]),
                "country": f.country,
                "region": partial(f.text, required=False, max_length=120),
                "crafts": f.semicolon_list,
                "story": partial(f.text, required=False, max_length=10_000),
                "partner_since": f.day_or_month,
                "address": partial(f.text, required=False, max_length=1_000),
                "contact": partial(f.text, required=False, max_length=1_000),
                "head_count": partial(f.integer, minimum=0, maximum=100_000, required=False),
            },
        )
        if values["country"] is None and values["region"]:
            # A region would give away the country the file chose to withhold.
            raise FieldError("region", "must be blank when the country is withheld")
        return values

    def check(self, rows):
        return duplicate_errors(rows, "slug", "workshop")

    def write(self, rows, progress: Callable[[int], None]) -> ImportResult:
        result = ImportResult()
        existing = workshops_by_slug({v["slug"] for _, v in rows})
        for _, v in rows:
            fields = {
                "name": v["name"],
                "kind": WorkshopKind(v["kind"]),
                "country_public": v["country"] is not None,
                "region": v["region"],
                "crafts": v["crafts"],
                "story": v["story"],
                "partner_since": v["partner_since"],
                "address": v["address"],
                "contact": v["contact"],
                "head_count": v["head_count"],
            }
            if v["country"] is not None:
                # 'withheld' hides the country; it never erases what staff recorded.
                fields["country_code"] = v["country"]
            upsert(result, existing.get(v["slug"]), Workshop, {"slug": v["slug"]}, fields)
            progress(1)
        db.session.flush()
        return result


class TraineeImporter(Importer):
    """Reads the file; the rules of a trainee's record are shop.provenance.trainees'."""

    name = "trainees"
    columns = ("code", "legal_name", "alias", "alias_consent", "workshop_slug", "cohort")

    def parse(self, row: dict[str, str]) -> dict:
        values = f.collect(
            row,
            {
                "code": partial(f.text, max_length=1_000),
                "legal_name": partial(f.text, max_length=1_000),
                "alias": partial(f.text, required=False, max_length=1_000),
                "alias_consent": f.yes_no,
                "workshop_slug": f.slug,
                "cohort": partial(f.text, required=False, max_length=1_000),
            },
        )
        problems = trainee_problems(self._details(values, workshop_id=None))
        if problems:
            raise RowFailed([FieldError(field, message) for field, message in problems])
        return values

    @staticmethod
    def _details(values: dict, workshop_id: int | None) -> TraineeDetails:
        return TraineeDetails(
            code=values["code"], legal_name=values["legal_name"], alias=values["alias"],
            alias_consent=values["alias_consent"], workshop_id=workshop_id, cohort=values["cohort"],
        )  # fmt: skip

    def check(self, rows):
        known = workshops_by_slug({v["workshop_slug"] for _, v in rows})
        return duplicate_errors(rows, "code", "trainee code") + unknown_workshop_errors(rows, known)

    def write(self, rows, progress: Callable[[int], None]) -> ImportResult:
        result = ImportResult()
        workshops = workshops_by_slug({v["workshop_slug"] for _, v in rows})
        codes = {v["code"] for _, v in rows}
        existing = {
            t.code: t for t in db.session.scalars(select(Trainee).where(Trainee.code.in_(codes)))
        }
        for _, v in rows:
            details = self._details(v, workshops[v["workshop_slug"]].id)
            trainee = existing.get(v["code"])
            if trainee is None:
                result.created += 1
            elif any(
                getattr(trainee, name) != getattr(details, name)
                for name in ("legal_name", "alias", "alias_consent", "workshop_id", "cohort")
            ):
                result.updated += 1
            else:
                result.unchanged += 1
            save_trainee(details, trainee)
            progress(1)
        return result


def parse_makers(value: str, column: str) -> list[tuple[str, int]]:
    """'T001:2;T002:1' -> [('T001', 2), ('T002', 1)]; blank means no makers recorded."""
    makers = []
    for part in (p.strip() for p in value.split(";")):
        if not part:
            continue
        trainee_code, sep, weight = part.partition(":")
        trainee_code = trainee_code.strip()
        if not sep or not f.CODE_RE.match(trainee_code):
            raise FieldError(column, f"'{part}' is not like T001:2 (trainee code and weight)")
        weight_value = f.integer(weight, column, minimum=1, maximum=10_000)
        makers.append((trainee_code, weight_value))
    duplicated = [c for c, n in Counter(c for c, _ in makers).items() if n > 1]
    if duplicated:
        raise FieldError(column, f"lists {', '.join(duplicated)} more than once")
    return makers


class BatchImporter(Importer):
    name = "batches"
    columns = ("code", "workshop_slug", "sku", "quantity", "produced_month", "materials", "makers")

    def __init__(self, *, skip_recorded: bool = False):
        # Seeding demo data runs the same file again; a real import never does.
        self.skip_recorded = skip_recorded

    def parse(self, row: dict[str, str]) -> dict:
        return f.collect(
            row,
            {
                "code": partial(f.code, max_length=40),
                "workshop_slug": f.slug,
                "sku": partial(f.code, max_length=64),
                "quantity": partial(f.integer, minimum=1, maximum=100_000),
                "produced_month": f.month,
                "materials": partial(f.text, required=False, max_length=500),
                "makers": parse_makers,
            },
        )

    def _lookups(self, rows):
        workshops = workshops_by_slug({v["workshop_slug"] for _, v in rows})
        skus = {v["sku"] for _, v in rows}
        variants = {
            variant.sku: variant
            for variant in db.session.scalars(
                select(Variant).where(Variant.sku.in_(skus)).options(selectinload(Variant.product))
            )
        }
        trainee_codes = {c for _, v in rows for c, _ in v["makers"]}
        trainees = {
            t.code: t
            for t in db.session.scalars(select(Trainee).where(Trainee.code.in_(trainee_codes)))
        }
        recorded = set(
            db.session.scalars(
                select(Batch.code).where(Batch.code.in_({v["code"] for _, v in rows}))
            )
        )
        return workshops, variants, trainees, recorded

    def check(self, rows):
        workshops, variants, trainees, recorded = self._lookups(rows)
        errors = duplicate_errors(rows, "code", "batch code")
        errors += unknown_workshop_errors(rows, workshops)
        for n, v in rows:
            if v["code"] in recorded and not self.skip_recorded:
                errors.append(RowError(n, "code", f"batch {v['code']} was recorded before"))
            workshop = workshops.get(v["workshop_slug"])
            variant = variants.get(v["sku"])
            if variant is None:
                errors.append(
                    RowError(
                        n, "sku", f"no variant with SKU '{v['sku']}' (import the catalog first)"
                    )
                )
            elif workshop is not None and variant.product.workshop_id != workshop.id:
                errors.append(
                    RowError(
                        n, "sku", f"{v['sku']} is made by another workshop, not '{workshop.slug}'"
                    )
                )
            for trainee_code, _ in v["makers"]:
                trainee = trainees.get(trainee_code)
                if trainee is None:
                    errors.append(RowError(n, "makers", f"no trainee '{trainee_code}'"))
                elif workshop is not None and trainee.workshop_id != workshop.id:
                    errors.append(
                        RowError(
                            n, "makers", f"trainee '{trainee_code}' is not at '{workshop.slug}'"
                        )
                    )
        return errors

    def write(self, rows, progress: Callable[[int], None]) -> ImportResult:
        result = ImportResult()
        workshops, variants, trainees, recorded = self._lookups(rows)
        for _, v in rows:
            if v["code"] in recorded:
                result.unchanged += 1
            else:
                record_batch(
                    code=v["code"],
                    workshop=workshops[v["workshop_slug"]],
                    variant=variants[v["sku"]],
                    quantity=v["quantity"],
                    produced_month=v["produced_month"],
                    materials=v["materials"],
                    makers=[(trainees[c], w) for c, w in v["makers"]],
                )
                result.created += 1
            progress(1)
        return result
