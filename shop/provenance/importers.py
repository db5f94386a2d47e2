"""CSV imports for workshops, trainees and production batches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial

from sqlalchemy import select

from shop import csv_import as f
from shop.audit.services import snapshot
from shop.csv_import import (
    FieldError,
    Importer,
    ImportFailed,
    ImportResult,
    RowError,
    RowFailed,
    duplicate_errors,
    unknown_workshop_errors,
    upsert,
)
from shop.extensions import db
from shop.provenance.models import Trainee, Workshop, WorkshopKind
from shop.provenance.services import (
    BatchDraft,
    BatchLookups,
    batch_problems,
    maker_problems,
    record_batch,
    workshops_by_slug,
)
from shop.provenance.trainees import (
    TraineeDetails,
    TraineeRefused,
    codes_taken,
    save_trainee,
    trainee_problems,
)
from shop.provenance.workshop_details import WORKSHOP_FIELDS, record_workshop_change


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
        written = []
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
            found = existing.get(v["slug"])
            before = None if found is None else snapshot(found, WORKSHOP_FIELDS)
            written.append((upsert(result, found, Workshop, {"slug": v["slug"]}, fields), before))
            progress(1)
        db.session.flush()
        for workshop, before in written:
            record_workshop_change(workshop, before)
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
        # Codes are unique whatever their case: 'ab-1' on a row is not a new trainee beside
        # 'AB-1', and not a quiet rename of her either.
        errors = duplicate_errors(rows, "code", "trainee code", same=str.lower)
        taken = codes_taken({v["code"] for _, v in rows})
        errors += [
            RowError(n, "code", f"'{v['code']}' is already used by another trainee, as "
                                f"'{taken[v['code'].lower()]}'")
            for n, v in rows
            if v["code"].lower() in taken and taken[v["code"].lower()] != v["code"]
        ]  # fmt: skip
        return errors + unknown_workshop_errors(rows, known)

    def write(self, rows, progress: Callable[[int], None]) -> ImportResult:
        result = ImportResult()
        workshops = workshops_by_slug({v["workshop_slug"] for _, v in rows})
        codes = {v["code"] for _, v in rows}
        existing = {
            t.code: t for t in db.session.scalars(select(Trainee).where(Trainee.code.in_(codes)))
        }
        for n, v in rows:
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
            try:
                save_trainee(details, trainee)
            except TraineeRefused as refused:  # e.g. the same code saved meanwhile by staff
                raise ImportFailed([RowError(n, c, m) for c, m in refused.problems]) from None
            progress(1)
        return result


def parse_makers(value: str, column: str) -> list[tuple[str, int]]:
    """'T001:2;T002:1' -> [('T001', 2), ('T002', 1)]; blank means no makers recorded.
    Only the format: the rules (known trainees, weights, no repeats) are record_batch's."""
    makers = []
    for part in (p.strip() for p in value.split(";")):
        if not part:
            continue
        trainee_code, sep, weight = part.partition(":")
        trainee_code = trainee_code.strip()
        if not sep or not f.CODE_RE.match(trainee_code):
            raise FieldError(column, f"'{part}' is not like T001:2 (trainee code and weight)")
        makers.append((trainee_code, f.integer(weight, column)))
    return makers


def any_month(value: str, column: str) -> date:
    """A month like 2026-03, of any year: only the format. Whether it may be in the
    future is a batch rule (batch_problems), like every other rule a batch must meet."""
    try:
        return f.month(value, column, not_after=date.max)
    except FieldError:
        raise
    except ValueError:  # a year Python's dates do not have, like 0000
        raise FieldError(column, f"'{value.strip()}' is not a month like 2026-03") from None


class BatchImporter(Importer):
    name = "batches"
    columns = ("code", "workshop_slug", "sku", "quantity", "produced_month", "materials", "makers")

    def __init__(self, *, skip_recorded: bool = False):
        # Seeding demo data runs the same file again; a real import never does.
        self.skip_recorded = skip_recorded

    def parse(self, row: dict[str, str]) -> BatchDraft:
        values = f.collect(
            row,
            {
                "code": partial(f.text, max_length=200),
                "workshop_slug": f.slug,
                "sku": partial(f.text, max_length=200),
                "quantity": f.integer,
                "produced_month": any_month,
                "materials": partial(f.text, required=False, max_length=500),
                "makers": parse_makers,
            },
        )
        return BatchDraft(**{**values, "makers": tuple(values["makers"])})

    def _to_write(self, rows, lookups: BatchLookups):
        """Rows to record: all of them, or, when seeding again, those not recorded yet."""
        if not self.skip_recorded:
            return rows
        return [(n, d) for n, d in rows if d.code not in lookups.recorded]

    def check(self, rows):
        lookups = BatchLookups.load(d for _, d in rows)
        errors = duplicate_errors([(n, {"code": d.code}) for n, d in rows], "code", "batch code")
        to_write = self._to_write(rows, lookups)
        for n, draft in to_write:
            errors += [
                RowError(n, column, message)
                for column, message in batch_problems(draft, lookups, makers=False)
            ]
        if errors:
            # A file refused anyway says nothing about any maker: see batch_problems.
            return errors
        return [
            RowError(n, col, msg) for n, d in to_write for col, msg in maker_problems(d, lookups)
        ]

    def write(self, rows, progress: Callable[[int], None]) -> ImportResult:
        result = ImportResult()
        lookups = BatchLookups.load(d for _, d in rows)
        to_write = {n for n, _ in self._to_write(rows, lookups)}
        for n, draft in rows:
            if n in to_write:
                record_batch(draft, lookups)
                result.created += 1
            else:
                result.unchanged += 1
            progress(1)
        return result
